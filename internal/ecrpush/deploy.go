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
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// Deploying an image is the one place that orders the ECR calls that change
// what a tag names: push the blobs, put the manifests, move each tag to the
// new image with PutImage (which moves a tag in one call, so a tag is never
// without an image), and only then retire the image the resource stood for
// before. A failure before the last tag moved is undone: the tags already
// moved are put back where they were. Whatever happens, the result says what
// the resource owns in ECR afterwards, so the state can record the truth.

// Owned is an image as one resource owns it: its digest and the tags the
// resource set on it (other tags on the image belong to others).
type Owned struct {
	Digest string
	Tags   []string
}

func (o *Owned) clone() *Owned {
	if o == nil {
		return nil
	}
	return &Owned{Digest: o.Digest, Tags: slices.Clone(o.Tags)}
}

// Deployment is what one resource wants of ECR.
type Deployment struct {
	Target Target
	// Current is what the resource owns now; nil when it owns nothing yet.
	Current *Owned
	// Want is the image the resource is to stand for, and its tags.
	Want Owned
	// Manifests are put when Want.Digest is not Current's: children first,
	// the manifest of Want.Digest last. Blobs are pushed before them with
	// Pusher. Both are unused when only the tags change.
	Manifests []Manifest
	// Referrers (SBOMs, signatures) are put untagged after the image is in
	// the repository and before any tag moves to it, each after its
	// subject, in the order given: a tag never names the new image without
	// them. They are put even when the image itself is not new; their blobs
	// are among Blobs.
	Referrers []Manifest
	Blobs     []Blob
	Pusher    *Pusher
	// KeepPrevious leaves Current's image in ECR when Want replaces it
	// (keep_remotely).
	KeepPrevious bool
}

// Leftover is something a deployment or a destroy left in ECR that the
// resource no longer owns, and why it could not be removed.
type Leftover struct {
	Digest string
	// Tags still on the image that the resource set and gave up.
	Tags []string
	// ListedBy holds ECR's word on the index that lists the image, when
	// that is why it stays.
	ListedBy string
	// Err is the failure that left it, when one did.
	Err error
}

// DeployResult is what a deployment did, and what the resource owns after
// it, whether it failed or not.
type DeployResult struct {
	// Owned is what the resource owns in ECR now: the state to record. Nil
	// when it owns nothing.
	Owned *Owned
	// RegistryID is the registry ECR put the image in, when it said.
	RegistryID string
	// Blobs are the pushed blobs' results; Put the manifests'.
	Blobs []BlobResult
	Put   PutResult
	// Leftovers are images and tags left in ECR that no longer belong to the
	// resource: each deserves a warning naming it.
	Leftovers []Leftover
	// Undone is true when a failure was undone: ECR's tags are as they were.
	Undone bool
}

// undoTimeout bounds how long putting tags back may take once the caller's
// context has ended: an interrupted deployment still undoes what it did.
const undoTimeout = time.Minute

// Deploy makes ECR hold d.Want for the resource: a new image is pushed and
// tagged, then the previous one retired; a change of tags alone adds tags
// before it removes any. See DeployResult for what a failure leaves.
func Deploy(ctx context.Context, api ImageAPI, d Deployment) (DeployResult, error) {
	if err := d.Target.Validate(); err != nil {
		return DeployResult{Owned: d.Current.clone()}, err
	}
	for _, tag := range d.Want.Tags {
		if err := ValidateImageTag(tag); err != nil {
			return DeployResult{Owned: d.Current.clone()}, fmt.Errorf("tag %q %w", tag, err)
		}
	}
	dep := &deployer{api: api, d: d, target: d.Target}
	if d.Current != nil && d.Current.Digest == d.Want.Digest {
		if len(d.Referrers) > 0 {
			dep.res.Owned = d.Current.clone()
			if err := dep.pushBlobs(ctx); err != nil {
				return dep.unchanged(err)
			}
			if err := dep.putReferrers(ctx); err != nil {
				return dep.unchanged(err)
			}
		}
		return dep.retag(ctx)
	}
	return dep.replace(ctx)
}

// pushBlobs pushes the deployment's blobs, if any.
func (dep *deployer) pushBlobs(ctx context.Context) error {
	if len(dep.d.Blobs) == 0 {
		return nil
	}
	if dep.d.Pusher == nil {
		return errors.New("blobs to push but no pusher")
	}
	results, err := dep.d.Pusher.Push(ctx, dep.target, dep.d.Blobs)
	dep.res.Blobs = append(dep.res.Blobs, results...)
	return err
}

// putReferrers puts the referrers, untagged, in order.
func (dep *deployer) putReferrers(ctx context.Context) error {
	for _, m := range dep.d.Referrers {
		if err := dep.put(ctx, m, ""); err != nil {
			return err
		}
	}
	return nil
}

type deployer struct {
	api    ImageAPI
	d      Deployment
	target Target
	res    DeployResult
	// before holds the manifest each tag to move named before the
	// deployment (absent: the tag named nothing), and wantExisted whether
	// the new image was in the repository already.
	before      map[string]StoredImage
	wantExisted bool
	moved       []string
}

// replace pushes d.Want and moves its tags to it, then retires d.Current.
func (dep *deployer) replace(ctx context.Context) (DeployResult, error) {
	d := dep.d
	dep.res.Owned = d.Current.clone()
	if len(d.Manifests) == 0 || d.Manifests[len(d.Manifests)-1].Digest != d.Want.Digest {
		return dep.res, errors.New("the manifests to put must end with the wanted image's")
	}
	if err := dep.pushBlobs(ctx); err != nil {
		return dep.unchanged(err)
	}
	if err := dep.lookBefore(ctx, d.Want.Tags); err != nil {
		return dep.unchanged(err)
	}
	top := d.Manifests[len(d.Manifests)-1]
	for _, m := range d.Manifests[:len(d.Manifests)-1] {
		if err := dep.put(ctx, m, ""); err != nil {
			return dep.unchanged(err)
		}
	}
	toMove := dep.notYetOn(d.Want.Digest, d.Want.Tags)
	if len(toMove) == 0 || len(d.Referrers) > 0 {
		// The image goes in untagged first when its referrers must be in
		// before a tag names it.
		if err := dep.put(ctx, top, ""); err != nil {
			return dep.unchanged(err)
		}
	}
	if err := dep.putReferrers(ctx); err != nil {
		return dep.unchanged(err)
	}
	for _, tag := range toMove {
		if err := dep.put(ctx, top, tag); err != nil {
			return dep.fail(ctx, top, err)
		}
		dep.moved = append(dep.moved, tag)
	}
	dep.res.Owned = &Owned{Digest: d.Want.Digest, Tags: sortedTags(d.Want.Tags)}
	if dep.res.RegistryID == "" {
		dep.res.RegistryID = dep.target.RegistryID
	}
	if d.Current != nil {
		dep.retire(ctx, *d.Current)
	}
	return dep.res, nil
}

// retag adds the tags d.Want has and d.Current lacks, then removes the
// ones it no longer wants: adding first means an image that keeps any tag
// is never left with none, which ECR would answer by deleting it.
func (dep *deployer) retag(ctx context.Context) (DeployResult, error) {
	d := dep.d
	dep.res.Owned = d.Current.clone()
	var added, removed []string
	for _, t := range d.Want.Tags {
		if !slices.Contains(d.Current.Tags, t) {
			added = append(added, t)
		}
	}
	for _, t := range d.Current.Tags {
		if !slices.Contains(d.Want.Tags, t) {
			removed = append(removed, t)
		}
	}
	if len(added) == 0 && len(removed) == 0 {
		return dep.res, nil
	}
	stored, err := GetImage(ctx, dep.api, dep.target, d.Want.Digest)
	if err != nil {
		return dep.unchanged(err)
	}
	m := Manifest{Digest: stored.Digest, MediaType: stored.MediaType, Raw: stored.Raw}
	if len(added) > 0 {
		if err := dep.lookBefore(ctx, added); err != nil {
			return dep.unchanged(err)
		}
		for _, tag := range dep.notYetOn(d.Want.Digest, added) {
			if err := dep.put(ctx, m, tag); err != nil {
				return dep.fail(ctx, m, err)
			}
			dep.moved = append(dep.moved, tag)
		}
	}
	owned := &Owned{Digest: d.Want.Digest, Tags: sortedTags(d.Want.Tags)}
	dep.res.Owned = owned
	if len(removed) == 0 {
		return dep.res, nil
	}
	// The tags that cannot go stay in the state until they do, unless an
	// index keeps them: then the resource gives them up, with a warning, so
	// that no apply tries again forever.
	left, err := dep.untag(ctx, m, removed)
	if err != nil {
		owned.Tags = sortedTags(append(owned.Tags, left...))
		return dep.res, err
	}
	return dep.res, nil
}

// lookBefore reads what each tag names now (and whether the wanted image is
// there), so that a failed move can be put back: one BatchGetImage per 100.
func (dep *deployer) lookBefore(ctx context.Context, tags []string) error {
	dep.before = map[string]StoredImage{}
	ids := []types.ImageIdentifier{{ImageDigest: aws.String(dep.d.Want.Digest)}}
	for _, t := range tags {
		ids = append(ids, types.ImageIdentifier{ImageTag: aws.String(t)})
	}
	for start := 0; start < len(ids); start += 100 {
		out, err := dep.api.BatchGetImage(ctx, &ecr.BatchGetImageInput{
			RepositoryName: aws.String(dep.target.Repository), RegistryId: dep.target.registryID(),
			ImageIds: ids[start:min(start+100, len(ids))], AcceptedMediaTypes: ManifestMediaTypes,
		}, dep.target.options)
		if err != nil {
			return opErr(ctx, "BatchGetImage", dep.target, err)
		}
		for _, img := range out.Images {
			if img.ImageId == nil {
				continue
			}
			stored := StoredImage{RegistryID: aws.ToString(img.RegistryId), Digest: aws.ToString(img.ImageId.ImageDigest),
				MediaType: aws.ToString(img.ImageManifestMediaType), Raw: []byte(aws.ToString(img.ImageManifest))}
			if tag := aws.ToString(img.ImageId.ImageTag); tag != "" && slices.Contains(tags, tag) {
				dep.before[tag] = stored
			}
			if sameDigest(stored.Digest, dep.d.Want.Digest) {
				dep.wantExisted = true
			}
			// The registry, for a target that names none: a put of an
			// image that is there already answers without it.
			if dep.res.RegistryID == "" {
				dep.res.RegistryID = stored.RegistryID
			}
		}
	}
	return nil
}

// notYetOn returns the tags that do not name digest already.
func (dep *deployer) notYetOn(digest string, tags []string) []string {
	var out []string
	for _, t := range sortedTags(tags) {
		if b, ok := dep.before[t]; !ok || !sameDigest(b.Digest, digest) {
			out = append(out, t)
		}
	}
	return out
}

func (dep *deployer) put(ctx context.Context, m Manifest, tag string) error {
	registry, existed, err := putManifest(ctx, dep.api, dep.target, m, tag)
	dep.res.Put.Calls++
	if err != nil {
		return err
	}
	if existed {
		dep.res.Put.Existed++
	}
	if registry != "" {
		dep.res.RegistryID = registry
	}
	dep.res.Put.Digest = dep.d.Want.Digest
	return nil
}

// unchanged ends a deployment that failed before any tag moved: what ECR
// tags is as it was (the blobs and untagged manifests put are unseen).
func (dep *deployer) unchanged(cause error) (DeployResult, error) {
	dep.res.Undone = true
	return dep.res, cause
}

// fail undoes the tags moved so far after cause stopped the deployment.
// When every tag is back, ECR holds what it held before. When one cannot be
// put back, the tags the new image kept are named as leftovers: the next
// apply, finding them on the image it wants, goes on from there.
func (dep *deployer) fail(ctx context.Context, m Manifest, cause error) (DeployResult, error) {
	undoCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	var stuck []string
	var undoErrs []error
	for i := len(dep.moved) - 1; i >= 0; i-- {
		if err := dep.putBack(undoCtx, m, dep.moved[i]); err != nil {
			stuck = append(stuck, dep.moved[i])
			undoErrs = append(undoErrs, err)
		}
	}
	if len(stuck) == 0 {
		dep.res.Undone = true
		return dep.res, cause
	}
	slices.Sort(stuck)
	undoErr := errors.Join(undoErrs...)
	dep.res.Leftovers = append(dep.res.Leftovers, Leftover{Digest: m.Digest, Tags: stuck, Err: undoErr})
	if cur := dep.d.Current; cur != nil {
		// The resource still stands for its old image, with the tags that
		// did not move.
		var kept []string
		for _, t := range cur.Tags {
			if !slices.Contains(stuck, t) {
				kept = append(kept, t)
			}
		}
		dep.res.Owned = &Owned{Digest: cur.Digest, Tags: kept}
	}
	return dep.res, &UndoError{Cause: cause, Digest: m.Digest, Stuck: stuck, Err: undoErr}
}

// putBack returns tag to the image it named before the deployment, or, when
// it named none, removes it (putting the new image back untagged if it was
// there before and removing its last tag deleted it).
func (dep *deployer) putBack(ctx context.Context, m Manifest, tag string) error {
	if prev, ok := dep.before[tag]; ok {
		_, _, err := putManifest(ctx, dep.api, dep.target,
			Manifest{Digest: prev.Digest, MediaType: prev.MediaType, Raw: prev.Raw}, tag)
		return err
	}
	if err := batchDelete(ctx, dep.api, dep.target, []types.ImageIdentifier{{ImageTag: aws.String(tag)}}); err != nil {
		return err
	}
	if !dep.wantExisted {
		return nil
	}
	_, found, err := DescribeImage(ctx, dep.api, dep.target, m.Digest)
	if err != nil || found {
		return err
	}
	_, _, err = putManifest(ctx, dep.api, dep.target, m, "")
	return err
}

// UndoError is a deployment that failed and could not put every tag back.
type UndoError struct {
	Cause  error
	Digest string   // the image the stuck tags name now
	Stuck  []string // the tags that could not be put back
	Err    error    // why
}

func (e *UndoError) Error() string {
	return fmt.Sprintf("%v; then tags %v could not be put back and still name %s: %v", e.Cause, e.Stuck, e.Digest, e.Err)
}

func (e *UndoError) Unwrap() error { return e.Cause }

func sortedTags(tags []string) []string {
	out := slices.Clone(tags)
	slices.Sort(out)
	return slices.Compact(out)
}
