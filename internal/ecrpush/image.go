// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// Image operations: after the blobs (Pusher.Push), the manifests go with
// PutImage, children first, the top-level one last with its tags; tags are
// added with PutImage of the same manifest and removed with BatchDeleteImage
// by tag; an image is read back with DescribeImages and BatchGetImage.

// The model's ImageTag shape bounds a tag's length (1 to 300); the pattern is
// the registry API's tag grammar, which ECR enforces: a tag outside it
// cannot be pulled by name.
const (
	ImageTagPattern = `[a-zA-Z0-9_][a-zA-Z0-9._-]*`
	ImageTagMinLen  = 1
	ImageTagMaxLen  = 300
)

// ImageTagRegexp is ImageTagPattern, anchored.
var ImageTagRegexp = regexp.MustCompile(`^(?:` + ImageTagPattern + `)$`)

// ValidateImageTag checks a tag as ECR does.
func ValidateImageTag(tag string) error {
	if n := utf8.RuneCountInString(tag); n < ImageTagMinLen || n > ImageTagMaxLen {
		return fmt.Errorf("must be %d to %d characters long, got %d", ImageTagMinLen, ImageTagMaxLen, n)
	}
	if !ImageTagRegexp.MatchString(tag) {
		return fmt.Errorf("must start with a letter, digit or '_' and hold only letters, digits, '_', '.' and '-' "+
			"(pattern %s), got %q", ImageTagPattern, tag)
	}
	return nil
}

// ManifestMediaTypes are the manifest media types ECR stores, asked for by
// BatchGetImage so that it answers each manifest as it was pushed.
var ManifestMediaTypes = []string{
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
}

// ImageAPI is the part of the ECR client the image operations use.
type ImageAPI interface {
	PutImage(ctx context.Context, in *ecr.PutImageInput, opts ...func(*ecr.Options)) (*ecr.PutImageOutput, error)
	BatchGetImage(ctx context.Context, in *ecr.BatchGetImageInput, opts ...func(*ecr.Options)) (*ecr.BatchGetImageOutput, error)
	BatchDeleteImage(ctx context.Context, in *ecr.BatchDeleteImageInput, opts ...func(*ecr.Options)) (*ecr.BatchDeleteImageOutput, error)
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, opts ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
	DescribeRepositories(ctx context.Context, in *ecr.DescribeRepositoriesInput, opts ...func(*ecr.Options)) (*ecr.DescribeRepositoriesOutput, error)
}

// Manifest is one manifest to put: its bytes, unchanged, its media type
// (sent as imageManifestMediaType, which ECR requires when the manifest has
// no mediaType field) and its digest (sent as imageDigest, so ECR checks it).
type Manifest struct {
	Digest    string
	MediaType string
	Raw       []byte
}

// PutResult is what PutImage made of an image.
type PutResult struct {
	// RegistryID is the registry ECR put the image in (its answer's
	// registryId): the caller's account when the target names none.
	RegistryID string
	// Digest is the top-level manifest's digest.
	Digest string
	// Existed counts the manifests ECR had already (ImageAlreadyExists):
	// nothing changed for them.
	Existed int
	// Calls counts the PutImage calls made.
	Calls int
}

// TagConflictError is a tag ECR refused to move to the image because the
// repository's tags are immutable (ImageTagAlreadyExistsException). Current
// is the digest the tag points at now and Mutability the repository's
// imageTagMutability, each empty when the look-up failed (LookupErr says why).
type TagConflictError struct {
	Tag        string
	Digest     string // the image the tag was to go to
	Current    string
	Mutability string
	// ExclusionFilters are the wildcard filters of a *_WITH_EXCLUSION mode.
	ExclusionFilters []string
	Target           Target
	LookupErr        error
	Err              error // the *OperationError of the refused PutImage
}

func (e *TagConflictError) Error() string {
	current, mutability := e.Current, e.Mutability
	if current == "" {
		current = "an unknown image"
	}
	if mutability == "" {
		mutability = "unknown"
	}
	return fmt.Sprintf("repository %q refused to move tag %q to %s: it points at %s, and the repository's tag mutability is %s",
		e.Target.Repository, e.Tag, e.Digest, current, mutability)
}

func (e *TagConflictError) Unwrap() error { return e.Err }

// MissingReferencesError is a manifest ECR refused because the repository
// lacks blobs (LayersNotFoundException) or child manifests
// (ReferencedImagesNotFoundException) it references. Blobs and children go
// first, so this means they disappeared between their push and the manifest's.
type MissingReferencesError struct {
	Manifest string // the manifest's digest
	Code     string
	Message  string // ECR's message, which names the digests
	Err      error
}

func (e *MissingReferencesError) Error() string {
	return fmt.Sprintf("ECR refused manifest %s (%s): %s", e.Manifest, e.Code, e.Message)
}

func (e *MissingReferencesError) Unwrap() error { return e.Err }

func opErr(ctx context.Context, op string, target Target, err error) *OperationError {
	return &OperationError{Operation: op, Action: "ecr:" + op, Target: target, Err: err, Canceled: ctx.Err() != nil}
}

// PutImage puts manifests, in order (an index's children before it, as
// imagesource gives them): each but the last untagged, the last once per tag
// (once untagged when tags is empty). A manifest ECR has already
// (ImageAlreadyExistsException) is a success. A tag that an immutable
// repository holds for another image is a *TagConflictError. The blobs must
// have been pushed first.
func PutImage(ctx context.Context, api ImageAPI, target Target, manifests []Manifest, tags []string) (PutResult, error) {
	if err := target.Validate(); err != nil {
		return PutResult{}, err
	}
	if len(manifests) == 0 {
		return PutResult{}, errors.New("no manifest to put")
	}
	for _, tag := range tags {
		if err := ValidateImageTag(tag); err != nil {
			return PutResult{}, fmt.Errorf("tag %q %w", tag, err)
		}
	}
	res := PutResult{Digest: manifests[len(manifests)-1].Digest}
	for i, m := range manifests {
		put := []string{""}
		if i == len(manifests)-1 && len(tags) > 0 {
			put = tags
		}
		for _, tag := range put {
			registry, existed, err := putManifest(ctx, api, target, m, tag)
			res.Calls++
			if err != nil {
				return res, err
			}
			if existed {
				res.Existed++
			}
			if registry != "" {
				res.RegistryID = registry
			}
		}
	}
	if res.RegistryID == "" {
		res.RegistryID = target.RegistryID
	}
	if res.RegistryID == "" {
		// Every manifest was there already, so no answer named the registry:
		// read the image back, which also confirms it is there.
		img, err := GetImage(ctx, api, target, res.Digest)
		if err != nil {
			return res, err
		}
		res.RegistryID = img.RegistryID
	}
	return res, nil
}

// TagImage adds tag to the image m, which the repository holds: PutImage of
// the same manifest with the tag. No blob is sent.
func TagImage(ctx context.Context, api ImageAPI, target Target, m Manifest, tag string) error {
	if err := ValidateImageTag(tag); err != nil {
		return fmt.Errorf("tag %q %w", tag, err)
	}
	_, _, err := putManifest(ctx, api, target, m, tag)
	return err
}

func putManifest(ctx context.Context, api ImageAPI, target Target, m Manifest, tag string) (registry string, existed bool, err error) {
	in := &ecr.PutImageInput{
		RepositoryName:         aws.String(target.Repository),
		RegistryId:             target.registryID(),
		ImageManifest:          aws.String(string(m.Raw)),
		ImageManifestMediaType: aws.String(m.MediaType),
	}
	if m.Digest != "" {
		in.ImageDigest = aws.String(m.Digest)
	}
	if tag != "" {
		in.ImageTag = aws.String(tag)
	}
	out, err := api.PutImage(ctx, in, target.options)
	switch {
	case err == nil:
		if out.Image != nil {
			registry = aws.ToString(out.Image.RegistryId)
		}
		return registry, false, nil
	case errors.As(err, new(*types.ImageAlreadyExistsException)):
		return "", true, nil
	case errors.As(err, new(*types.ImageTagAlreadyExistsException)):
		return "", false, tagConflict(ctx, api, target, m.Digest, tag, opErr(ctx, "PutImage", target, err))
	case errors.As(err, new(*types.LayersNotFoundException)), errors.As(err, new(*types.ReferencedImagesNotFoundException)):
		code, msg := "", err.Error()
		var apiErr interface{ ErrorCode() string }
		if errors.As(err, &apiErr) {
			code = apiErr.ErrorCode()
		}
		var le *types.LayersNotFoundException
		var re *types.ReferencedImagesNotFoundException
		if errors.As(err, &le) {
			msg = le.ErrorMessage()
		} else if errors.As(err, &re) {
			msg = re.ErrorMessage()
		}
		return "", false, &MissingReferencesError{Manifest: m.Digest, Code: code, Message: msg, Err: opErr(ctx, "PutImage", target, err)}
	default:
		return "", false, opErr(ctx, "PutImage", target, err)
	}
}

// tagConflict looks up where tag points and the repository's mutability, to
// explain a refused tag. Look-up failures are kept, not returned.
func tagConflict(ctx context.Context, api ImageAPI, target Target, digest, tag string, cause error) *TagConflictError {
	e := &TagConflictError{Tag: tag, Digest: digest, Target: target, Err: cause}
	var lookupErrs []error
	out, err := api.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RepositoryName: aws.String(target.Repository), RegistryId: target.registryID(),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String(tag)}},
	}, target.options)
	if err != nil {
		lookupErrs = append(lookupErrs, opErr(ctx, "DescribeImages", target, err))
	} else if len(out.ImageDetails) > 0 {
		e.Current = aws.ToString(out.ImageDetails[0].ImageDigest)
	}
	repos, err := api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{
		RepositoryNames: []string{target.Repository}, RegistryId: target.registryID(),
	}, target.options)
	if err != nil {
		lookupErrs = append(lookupErrs, opErr(ctx, "DescribeRepositories", target, err))
	} else if len(repos.Repositories) > 0 {
		r := repos.Repositories[0]
		e.Mutability = string(r.ImageTagMutability)
		for _, f := range r.ImageTagMutabilityExclusionFilters {
			e.ExclusionFilters = append(e.ExclusionFilters, aws.ToString(f.Filter))
		}
	}
	e.LookupErr = errors.Join(lookupErrs...)
	return e
}

// ImageInfo is an image as ECR describes it.
type ImageInfo struct {
	RegistryID string
	Digest     string
	MediaType  string
	// Tags are the image's tags, sorted.
	Tags []string
}

// DescribeImage describes the image with digest. found is false when the
// repository does not hold it; a missing repository is an *OperationError
// (KindRepositoryNotFound).
func DescribeImage(ctx context.Context, api ImageAPI, target Target, digest string) (info ImageInfo, found bool, err error) {
	return describeImage(ctx, api, target, types.ImageIdentifier{ImageDigest: aws.String(digest)})
}

// DescribeTag describes the image tag names, like DescribeImage.
func DescribeTag(ctx context.Context, api ImageAPI, target Target, tag string) (info ImageInfo, found bool, err error) {
	if err := ValidateImageTag(tag); err != nil {
		return ImageInfo{}, false, fmt.Errorf("tag %q %w", tag, err)
	}
	return describeImage(ctx, api, target, types.ImageIdentifier{ImageTag: aws.String(tag)})
}

func describeImage(ctx context.Context, api ImageAPI, target Target, id types.ImageIdentifier) (info ImageInfo, found bool, err error) {
	if err := target.Validate(); err != nil {
		return ImageInfo{}, false, err
	}
	out, err := api.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RepositoryName: aws.String(target.Repository), RegistryId: target.registryID(),
		ImageIds: []types.ImageIdentifier{id},
	}, target.options)
	if errors.As(err, new(*types.ImageNotFoundException)) {
		return ImageInfo{}, false, nil
	}
	if err != nil {
		return ImageInfo{}, false, opErr(ctx, "DescribeImages", target, err)
	}
	for _, d := range out.ImageDetails {
		if id.ImageDigest != nil && !strings.EqualFold(aws.ToString(d.ImageDigest), aws.ToString(id.ImageDigest)) {
			continue
		}
		if id.ImageTag != nil && !slices.Contains(d.ImageTags, aws.ToString(id.ImageTag)) {
			continue
		}
		tags := slices.Clone(d.ImageTags)
		slices.Sort(tags)
		return ImageInfo{RegistryID: aws.ToString(d.RegistryId), Digest: aws.ToString(d.ImageDigest),
			MediaType: aws.ToString(d.ImageManifestMediaType), Tags: tags}, true, nil
	}
	return ImageInfo{}, false, nil
}

// StoredImage is a manifest as BatchGetImage answers it.
type StoredImage struct {
	RegistryID string
	Digest     string
	MediaType  string
	Raw        []byte
}

// ImageNotFoundError is an image BatchGetImage did not find.
type ImageNotFoundError struct {
	Target Target
	Digest string
	Code   string // BatchGetImage's failureCode
	Reason string
}

func (e *ImageNotFoundError) Error() string {
	return fmt.Sprintf("repository %q has no image %s (%s: %s)", e.Target.Repository, e.Digest, e.Code, e.Reason)
}

// GetImage reads an image's manifest back by digest (BatchGetImage).
func GetImage(ctx context.Context, api ImageAPI, target Target, digest string) (StoredImage, error) {
	out, err := api.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RepositoryName: aws.String(target.Repository), RegistryId: target.registryID(),
		ImageIds:           []types.ImageIdentifier{{ImageDigest: aws.String(digest)}},
		AcceptedMediaTypes: ManifestMediaTypes,
	}, target.options)
	if err != nil {
		return StoredImage{}, opErr(ctx, "BatchGetImage", target, err)
	}
	for _, img := range out.Images {
		if img.ImageId != nil && strings.EqualFold(aws.ToString(img.ImageId.ImageDigest), digest) {
			return StoredImage{RegistryID: aws.ToString(img.RegistryId), Digest: digest,
				MediaType: aws.ToString(img.ImageManifestMediaType), Raw: []byte(aws.ToString(img.ImageManifest))}, nil
		}
	}
	nf := &ImageNotFoundError{Target: target, Digest: digest, Code: "ImageNotFound"}
	for _, f := range out.Failures {
		nf.Code, nf.Reason = string(f.FailureCode), aws.ToString(f.FailureReason)
	}
	return StoredImage{}, nf
}

// DeleteFailure is an image ID BatchDeleteImage did not delete, with ECR's
// failure code (ImageNotFound, ImageReferencedByManifestList, ...).
type DeleteFailure struct {
	Tag, Digest  string
	Code, Reason string
}

// DeleteImageError is a BatchDeleteImage that left image IDs in place.
type DeleteImageError struct {
	Target   Target
	Failures []DeleteFailure
}

func (e *DeleteImageError) Error() string {
	parts := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		what := f.Digest
		if f.Tag != "" {
			what = "tag " + f.Tag
		}
		parts[i] = fmt.Sprintf("%s: %s (%s)", what, f.Code, f.Reason)
	}
	return fmt.Sprintf("repository %q kept %s", e.Target.Repository, strings.Join(parts, "; "))
}

// Referenced reports whether every failure is ImageReferencedByManifestList:
// the image is kept because an index in the repository lists it.
func (e *DeleteImageError) Referenced() bool {
	for _, f := range e.Failures {
		if f.Code != string(types.ImageFailureCodeImageReferencedByManifestList) {
			return false
		}
	}
	return len(e.Failures) > 0
}

// UntagImage removes tags from the image with digest (BatchDeleteImage by
// tag), only those that point at it now: a tag that has moved to another
// image is left alone. ECR deletes an image whose last tag goes; the caller
// puts it back untagged if it is to stay. It returns the tags removed.
func UntagImage(ctx context.Context, api ImageAPI, target Target, digest string, tags []string) ([]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	info, found, err := DescribeImage(ctx, api, target, digest)
	if err != nil || !found {
		return nil, err
	}
	remove := intersect(tags, info.Tags)
	if err := untagAll(ctx, api, target, remove); err != nil {
		return nil, err
	}
	return remove, nil
}

// DeleteImage deletes the image with digest and every tag it has
// (BatchDeleteImage by digest). An image already gone is not an error; one
// an index still lists is a *DeleteImageError whose Referenced is true.
func DeleteImage(ctx context.Context, api ImageAPI, target Target, digest string) error {
	return batchDelete(ctx, api, target, []types.ImageIdentifier{{ImageDigest: aws.String(digest)}})
}

func batchDelete(ctx context.Context, api ImageAPI, target Target, ids []types.ImageIdentifier) error {
	out, err := api.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{
		RepositoryName: aws.String(target.Repository), RegistryId: target.registryID(), ImageIds: ids,
	}, target.options)
	if err != nil {
		return opErr(ctx, "BatchDeleteImage", target, err)
	}
	var failures []DeleteFailure
	for _, f := range out.Failures {
		if f.FailureCode == types.ImageFailureCodeImageNotFound {
			continue // gone already: what was asked
		}
		d := DeleteFailure{Code: string(f.FailureCode), Reason: aws.ToString(f.FailureReason)}
		if f.ImageId != nil {
			d.Tag, d.Digest = aws.ToString(f.ImageId.ImageTag), aws.ToString(f.ImageId.ImageDigest)
		}
		failures = append(failures, d)
	}
	if len(failures) > 0 {
		return &DeleteImageError{Target: target, Failures: failures}
	}
	return nil
}
