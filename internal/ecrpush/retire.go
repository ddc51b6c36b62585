// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// Removing images and tags. ECR deletes an image when its last tag goes,
// and refuses to remove the last tag of (or to delete) an image that an
// index in the repository lists. These rules decide what a destroy, a
// replaced image and a removed tag leave behind.

// putBackAttempts is how often an image that ECR deleted with its last tag
// is put back, each after the retryer's own attempts.
const putBackAttempts = 3

// Destroy removes what the resource owns: its tags, and the image when no
// other tag names it. With keep, nothing is touched. What stays (an image an
// index lists, and the tags ECR keeps on it) is in the result's Leftovers.
// On error the resource still owns the image (Owned), so the state keeps it
// and the next destroy tries again.
func Destroy(ctx context.Context, api ImageAPI, target Target, owned Owned, keep bool) (DeployResult, error) {
	if keep {
		return DeployResult{}, nil
	}
	if err := target.Validate(); err != nil {
		return DeployResult{Owned: owned.clone()}, err
	}
	left, err := remove(ctx, api, target, owned)
	if err != nil {
		return DeployResult{Owned: owned.clone()}, err
	}
	return DeployResult{Leftovers: left}, nil
}

// retire removes the image the resource stood for before a new one, by the
// rules of Destroy. The new image is in place by then, so a failure here is a
// leftover to warn about, not a failed deployment.
func (dep *deployer) retire(ctx context.Context, old Owned) {
	if sameDigest(old.Digest, dep.d.Want.Digest) {
		return
	}
	var given []string
	for _, t := range old.Tags {
		if !slices.Contains(dep.d.Want.Tags, t) {
			given = append(given, t)
		}
	}
	if dep.d.KeepPrevious {
		// The old image stays, as asked; tags dropped from the
		// configuration stay with it, and are named.
		info, found, err := DescribeImage(ctx, dep.api, dep.target, old.Digest)
		if err != nil {
			dep.res.Leftovers = append(dep.res.Leftovers, Leftover{Digest: old.Digest, Tags: given, Err: err})
			return
		}
		if kept := intersect(given, info.Tags); found && len(kept) > 0 {
			dep.res.Leftovers = append(dep.res.Leftovers, Leftover{Digest: old.Digest, Tags: kept})
		}
		return
	}
	left, err := remove(ctx, dep.api, dep.target, Owned{Digest: old.Digest, Tags: given})
	dep.res.Leftovers = append(dep.res.Leftovers, left...)
	if err != nil {
		dep.res.Leftovers = append(dep.res.Leftovers, Leftover{Digest: old.Digest, Tags: given, Err: err})
	}
}

// remove takes owned's tags off its image, and deletes the image when no
// other tag names it.
func remove(ctx context.Context, api ImageAPI, target Target, owned Owned) ([]Leftover, error) {
	info, found, err := DescribeImage(ctx, api, target, owned.Digest)
	if f, ok := FactsOf(err); ok && f.Kind == KindRepositoryNotFound {
		return nil, nil
	}
	if err != nil || !found {
		return nil, err
	}
	mine := intersect(owned.Tags, info.Tags)
	if len(mine) < len(info.Tags) {
		// Others' tags keep the image; removing ours cannot delete it.
		return nil, untagAll(ctx, api, target, mine)
	}
	err = DeleteImage(ctx, api, target, owned.Digest)
	var kept *DeleteImageError
	if !errors.As(err, &kept) || !kept.Referenced() {
		return nil, err
	}
	// An index lists the image, so it stays; ECR lets every tag go but its
	// last one.
	lo := Leftover{Digest: owned.Digest, ListedBy: kept.Failures[0].Reason}
	err = untagAll(ctx, api, target, mine)
	if errors.As(err, &kept) && kept.Referenced() {
		for _, f := range kept.Failures {
			lo.Tags = append(lo.Tags, f.Tag)
		}
		err = nil
	}
	return []Leftover{lo}, err
}

// untag removes tags from the image m (retag's removals). When they are its
// last, ECR deletes the image, and untag puts it back untagged. It returns
// the tags it could not remove; those an index keeps are leftovers instead.
func (dep *deployer) untag(ctx context.Context, m Manifest, tags []string) ([]string, error) {
	info, found, err := DescribeImage(ctx, dep.api, dep.target, m.Digest)
	if err != nil {
		return tags, err
	}
	present := intersect(tags, info.Tags)
	if !found || len(present) == 0 {
		return nil, nil
	}
	last := len(present) == len(info.Tags)
	err = untagAll(ctx, dep.api, dep.target, present)
	var kept *DeleteImageError
	if errors.As(err, &kept) && kept.Referenced() {
		lo := Leftover{Digest: m.Digest, ListedBy: kept.Failures[0].Reason}
		for _, f := range kept.Failures {
			lo.Tags = append(lo.Tags, f.Tag)
		}
		dep.res.Leftovers = append(dep.res.Leftovers, lo)
		return nil, nil
	}
	if err != nil {
		return present, err
	}
	if !last {
		return nil, nil
	}
	return nil, putBackUntagged(ctx, dep.api, dep.target, m)
}

// putBackUntagged puts back an image ECR deleted with its last tag, trying a
// few times: until it succeeds, the repository lacks an image it should have.
func putBackUntagged(ctx context.Context, api ImageAPI, target Target, m Manifest) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	var err error
	for attempt := range putBackAttempts {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * time.Second):
			case <-ctx.Done():
			}
		}
		if _, _, err = putManifest(ctx, api, target, m, ""); err == nil {
			return nil
		}
	}
	return &PutBackError{Digest: m.Digest, Target: target, Err: err}
}

// PutBackError is an image ECR deleted when its last tag was removed and
// that could not be put back: the repository no longer has it.
type PutBackError struct {
	Digest string
	Target Target
	Err    error
}

func (e *PutBackError) Error() string {
	return fmt.Sprintf("removing the last tag of %s made ECR delete it from %q, and putting it back failed %d times: %v",
		e.Digest, e.Target.Repository, putBackAttempts, e.Err)
}

func (e *PutBackError) Unwrap() error { return e.Err }

// untagAll removes tags (BatchDeleteImage by tag, 100 a call).
func untagAll(ctx context.Context, api ImageAPI, target Target, tags []string) error {
	var failures []DeleteFailure
	for start := 0; start < len(tags); start += 100 {
		batch := tags[start:min(start+100, len(tags))]
		ids := make([]types.ImageIdentifier, len(batch))
		for i, tag := range batch {
			ids[i] = types.ImageIdentifier{ImageTag: aws.String(tag)}
		}
		err := batchDelete(ctx, api, target, ids)
		var kept *DeleteImageError
		if errors.As(err, &kept) {
			failures = append(failures, kept.Failures...)
			continue
		}
		if err != nil {
			return err
		}
	}
	if len(failures) > 0 {
		return &DeleteImageError{Target: target, Failures: failures}
	}
	return nil
}

func intersect(a, b []string) []string {
	var out []string
	for _, t := range a {
		if slices.Contains(b, t) && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}
