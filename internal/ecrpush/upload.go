// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// Target names a repository: its name, the registry (account) that holds it,
// and the region. An empty RegistryID means the caller's own registry; an
// empty Region means the client's.
type Target struct {
	Repository string
	RegistryID string
	Region     string
}

// Validate checks the target as ECR would, so that a bad one is refused
// before any request is signed or sent.
func (t Target) Validate() error {
	var errs []error
	if err := ValidateRepositoryName(t.Repository); err != nil {
		errs = append(errs, fmt.Errorf("repository name %w", err))
	}
	if t.RegistryID != "" {
		if err := ValidateRegistryID(t.RegistryID); err != nil {
			errs = append(errs, fmt.Errorf("registry ID %w", err))
		}
	}
	if t.Region != "" {
		if err := ValidateRegion(t.Region); err != nil {
			errs = append(errs, fmt.Errorf("region %w", err))
		}
	}
	return errors.Join(errs...)
}

func (t Target) options(o *ecr.Options) {
	if t.Region != "" {
		o.Region = t.Region
	}
}

func (t Target) registryID() *string {
	if t.RegistryID == "" {
		return nil
	}
	return aws.String(t.RegistryID)
}

// InitiateLayerUploadAPI is the part of the ECR client that starts uploads.
type InitiateLayerUploadAPI interface {
	InitiateLayerUpload(ctx context.Context, in *ecr.InitiateLayerUploadInput, opts ...func(*ecr.Options)) (*ecr.InitiateLayerUploadOutput, error)
}

// Upload is an upload ECR has started: its ID and the part size it asks for.
type Upload struct {
	ID       string
	PartSize int64
}

// InitiateLayerUpload starts a layer upload in the target repository. ECR has
// no call to abort an upload; one that is never completed is abandoned.
func InitiateLayerUpload(ctx context.Context, api InitiateLayerUploadAPI, target Target) (Upload, error) {
	if err := target.Validate(); err != nil {
		return Upload{}, err
	}
	out, err := api.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{
		RepositoryName: aws.String(target.Repository),
		RegistryId:     target.registryID(),
	}, target.options)
	if err != nil {
		return Upload{}, &OperationError{Operation: "InitiateLayerUpload", Action: "ecr:InitiateLayerUpload", Target: target,
			Err: err, Canceled: ctx.Err() != nil}
	}
	if out.UploadId == nil || out.PartSize == nil {
		return Upload{}, &OperationError{Operation: "InitiateLayerUpload", Action: "ecr:InitiateLayerUpload", Target: target,
			Err: errors.New("the response has no uploadId or partSize")}
	}
	// The model allows parts up to 20,971,520 bytes; a size outside (0, that]
	// could only make a pusher loop or divide by zero, so it is refused here.
	if size := aws.ToInt64(out.PartSize); size <= 0 || size > 20971520 {
		return Upload{}, &OperationError{Operation: "InitiateLayerUpload", Action: "ecr:InitiateLayerUpload", Target: target,
			Err: fmt.Errorf("ECR answered a part size of %d bytes, which cannot be used: a part size must be 1 to 20971520 bytes", size)}
	}
	return Upload{ID: aws.ToString(out.UploadId), PartSize: aws.ToInt64(out.PartSize)}, nil
}
