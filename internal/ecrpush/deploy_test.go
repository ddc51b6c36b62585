// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// deployCase is a repository's starting point and what one resource asks of
// it: images by name, tags by name of image, then a deployment or a destroy.
type deployCase struct {
	name string
	// images to push first, and the tags each gets ("" untagged); indexes
	// list images by name.
	images  map[string][]string
	indexes map[string][]string // index name: child image names
	current *namedOwned
	want    *namedOwned // nil: destroy
	keep    bool
	// planned is the tag map a clean run leaves (tag: image name), and
	// gone the images it deletes.
	planned   map[string]string
	gone      []string
	leftovers int // leftovers a clean run reports
	// referrer: the deployment brings an SBOM whose subject is want's image.
	referrer bool
}

type namedOwned struct {
	image string
	tags  []string
}

var deployCases = []deployCase{
	{name: "create moves a tag from another image and adds one",
		images: map[string][]string{"X": {"a"}}, want: &namedOwned{"B", []string{"a", "b"}},
		planned: map[string]string{"a": "B", "b": "B"}},
	{name: "create untagged",
		images: map[string][]string{"X": {"a"}}, want: &namedOwned{"B", nil},
		planned: map[string]string{"a": "X"}},
	{name: "a new image replaces the old in place",
		images:  map[string][]string{"A": {"prod", "v1"}},
		current: &namedOwned{"A", []string{"prod", "v1"}}, want: &namedOwned{"B", []string{"prod", "v2"}},
		planned: map[string]string{"prod": "B", "v2": "B"}, gone: []string{"A"}},
	{name: "the old image keeps others' tags",
		images:  map[string][]string{"A": {"prod", "v1", "theirs"}},
		current: &namedOwned{"A", []string{"prod", "v1"}}, want: &namedOwned{"B", []string{"prod"}},
		planned: map[string]string{"prod": "B", "theirs": "A"}},
	{name: "keep_remotely keeps the old image and names the tag it gave up",
		images:  map[string][]string{"A": {"prod", "v1"}},
		current: &namedOwned{"A", []string{"prod", "v1"}}, want: &namedOwned{"B", []string{"prod"}}, keep: true,
		planned: map[string]string{"prod": "B", "v1": "A"}, leftovers: 1},
	{name: "tags change: one added, one removed",
		images:  map[string][]string{"A": {"a", "b"}, "X": {"c"}},
		current: &namedOwned{"A", []string{"a", "b"}}, want: &namedOwned{"A", []string{"b", "c"}},
		planned: map[string]string{"b": "A", "c": "A"}},
	{name: "the last tag goes and the image stays",
		images:  map[string][]string{"A": {"a"}},
		current: &namedOwned{"A", []string{"a"}}, want: &namedOwned{"A", nil},
		planned: map[string]string{}},
	{name: "an index keeps the last tag of an image it lists",
		images: map[string][]string{"A": {"a"}}, indexes: map[string][]string{"I": {"A"}},
		current: &namedOwned{"A", []string{"a"}}, want: &namedOwned{"A", nil},
		planned: map[string]string{"a": "A"}, leftovers: 1},
	{name: "create with a referrer: it is in before a tag names the image",
		images: map[string][]string{"X": {"a"}}, want: &namedOwned{"B", []string{"a", "b"}}, referrer: true,
		planned: map[string]string{"a": "B", "b": "B"}},
	{name: "a new image with a referrer replaces the old",
		images:  map[string][]string{"A": {"prod"}},
		current: &namedOwned{"A", []string{"prod"}}, want: &namedOwned{"B", []string{"prod"}}, referrer: true,
		planned: map[string]string{"prod": "B"}, gone: []string{"A"}},
	{name: "the same image gets a referrer and a tag",
		images:  map[string][]string{"A": {"a"}},
		current: &namedOwned{"A", []string{"a"}}, want: &namedOwned{"A", []string{"a", "b"}}, referrer: true,
		planned: map[string]string{"a": "A", "b": "A"}},
	{name: "destroy deletes an image no other tag names",
		images:  map[string][]string{"A": {"a", "b"}},
		current: &namedOwned{"A", []string{"a", "b"}},
		planned: map[string]string{}, gone: []string{"A"}},
	{name: "destroy leaves others' tags",
		images:  map[string][]string{"A": {"a", "theirs"}},
		current: &namedOwned{"A", []string{"a"}},
		planned: map[string]string{"theirs": "A"}},
	{name: "destroy of an image an index lists names what stays",
		images: map[string][]string{"A": {"a"}}, indexes: map[string][]string{"I": {"A"}},
		current: &namedOwned{"A", []string{"a"}},
		planned: map[string]string{"a": "A"}, leftovers: 1},
}

// deployWorld is one endpoint set up for a case.
type deployWorld struct {
	srv    *ecrlocal.Server
	api    *ecr.Client
	images map[string]testImage
	digest map[string]string // image name: digest
	name   map[string]string // digest: image name
}

func newDeployWorld(t *testing.T, c deployCase) *deployWorld {
	t.Helper()
	srv := endpoint(t)
	srv.CreateRepository(region, "", "team/app")
	w := &deployWorld{srv: srv, api: client(srv, 1), images: map[string]testImage{}, digest: map[string]string{}, name: map[string]string{}}
	for _, n := range []string{"A", "B", "X"} {
		img := newTestImage(n)
		w.images[n], w.digest[n], w.name[img.manifest.Digest] = img, img.manifest.Digest, n
	}
	ctx := context.Background()
	for _, n := range slices.Sorted(maps.Keys(c.images)) {
		img := w.images[n]
		pushBlobs(t, srv, imageTarget, img.blobs)
		if _, err := PutImage(ctx, w.api, imageTarget, []Manifest{img.manifest}, c.images[n]); err != nil {
			t.Fatal(err)
		}
	}
	for n, children := range c.indexes {
		var ms []Manifest
		for _, child := range children {
			ms = append(ms, w.images[child].manifest)
		}
		idx := indexOf(ms...)
		w.digest[n], w.name[idx.Digest] = idx.Digest, n
		if _, err := PutImage(ctx, w.api, imageTarget, []Manifest{idx}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// tags is the repository's tags by image name.
func (w *deployWorld) tags() map[string]string {
	out := map[string]string{}
	for tag, d := range w.srv.ImageTags(region, "", "team/app") {
		out[tag] = w.name[d]
	}
	return out
}

func (w *deployWorld) has(image string) bool {
	return slices.Contains(w.srv.Images(region, "", "team/app"), w.digest[image])
}

func (w *deployWorld) owned(o *namedOwned) *Owned {
	if o == nil {
		return nil
	}
	return &Owned{Digest: w.digest[o.image], Tags: o.tags}
}

func (w *deployWorld) run(c deployCase) (DeployResult, error) {
	ctx := context.Background()
	if c.want == nil {
		return Destroy(ctx, w.api, imageTarget, *w.owned(c.current), c.keep)
	}
	d := Deployment{Target: imageTarget, Current: w.owned(c.current), Want: *w.owned(c.want), KeepPrevious: c.keep}
	if c.current == nil || c.current.image != c.want.image {
		img := w.images[c.want.image]
		d.Manifests, d.Blobs, d.Pusher = []Manifest{img.manifest}, img.blobs, &Pusher{API: w.api}
	}
	if c.referrer {
		ref := w.referrerOf(c.want.image)
		d.Referrers, d.Blobs, d.Pusher = []Manifest{ref.manifest}, append(d.Blobs, ref.blobs...), &Pusher{API: w.api}
	}
	return Deploy(ctx, w.api, d)
}

// referrerOf is an SBOM artifact whose subject is the image's manifest.
func (w *deployWorld) referrerOf(image string) testImage {
	subject := w.images[image].manifest
	empty, sbom := []byte("{}"), []byte(`{"spdxVersion":"SPDX-2.3","name":"`+image+`"}`)
	raw := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":"application/spdx+json",`+
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},`+
		`"layers":[{"mediaType":"application/spdx+json","digest":%q,"size":%d}],`+
		`"subject":{"mediaType":%q,"digest":%q,"size":%d}}`,
		ociManifestType, sha(empty), sha(sbom), len(sbom), subject.MediaType, subject.Digest, len(subject.Raw))
	return testImage{
		blobs: []Blob{{Name: "empty config", Digest: sha(empty), Size: 2, Content: bytes.NewReader(empty)},
			{Name: "sbom", Digest: sha(sbom), Size: int64(len(sbom)), Content: bytes.NewReader(sbom)}},
		manifest: Manifest{Digest: sha([]byte(raw)), MediaType: ociManifestType, Raw: []byte(raw)},
	}
}

// referrerIn reports whether ECR holds the SBOM of image.
func (w *deployWorld) referrerIn(image string) bool {
	return slices.Contains(w.srv.Images(region, "", "team/app"), w.referrerOf(image).manifest.Digest)
}

// calls are the operations the endpoint answered after the first n.
func (w *deployWorld) calls(n int) []string {
	var ops []string
	for _, r := range w.srv.Requests()[n:] {
		ops = append(ops, r.Operation)
	}
	return ops
}

// checkTruth fails unless what the result says the resource owns is in ECR.
func (w *deployWorld) checkTruth(t *testing.T, res DeployResult, err error) {
	t.Helper()
	if res.Owned == nil {
		return
	}
	if !w.has(w.name[res.Owned.Digest]) {
		if !errors.As(err, new(*PutBackError)) {
			t.Errorf("the result owns %s, which ECR does not hold (err %v)", w.name[res.Owned.Digest], err)
		}
		return
	}
	tags := w.tags()
	for _, tag := range res.Owned.Tags {
		if tags[tag] != w.name[res.Owned.Digest] {
			t.Errorf("the result owns tag %q on %s; ECR has it on %q (err %v)", tag, w.name[res.Owned.Digest], tags[tag], err)
		}
	}
}

func TestDeployCleanRuns(t *testing.T) {
	for _, c := range deployCases {
		t.Run(c.name, func(t *testing.T) {
			w := newDeployWorld(t, c)
			res, err := w.run(c)
			if err != nil {
				t.Fatal(err)
			}
			if got := w.tags(); !maps.Equal(got, c.planned) {
				t.Errorf("tags %v, planned %v", got, c.planned)
			}
			for _, g := range c.gone {
				if w.has(g) {
					t.Errorf("%s is still there", g)
				}
			}
			if c.want != nil && !w.has(c.want.image) {
				t.Errorf("%s is not there", c.want.image)
			}
			if len(res.Leftovers) != c.leftovers {
				t.Errorf("leftovers %+v, want %d", res.Leftovers, c.leftovers)
			}
			if c.referrer && !w.referrerIn(c.want.image) {
				t.Errorf("the referrer of %s is not there", c.want.image)
			}
			w.checkTruth(t, res, err)
		})
	}
}

// TestDeployFaultAtEveryCall fails each ECR call of a clean run in turn,
// once (a 500 the retryer does not get to retry), and then from that call
// on (an endpoint that stays down). After each: what the result says the
// resource owns is in ECR; a failure undone left every tag as it was; no
// tag that named an image before names nothing unless the plan removed it
// and the run succeeded; and an old image is deleted only once the new one
// holds every tag.
func TestDeployFaultAtEveryCall(t *testing.T) {
	for _, c := range deployCases {
		clean := newDeployWorld(t, c)
		start := len(clean.srv.Requests())
		if _, err := clean.run(c); err != nil {
			t.Fatalf("%s: clean run: %v", c.name, err)
		}
		calls := clean.calls(start)
		for i, op := range calls {
			for _, times := range []int{1, 1000} {
				after := 0
				for _, prev := range calls[:i] {
					if prev == op {
						after++
					}
				}
				t.Run(fmt.Sprintf("%s/call %d %s/faults %d", c.name, i+1, op, times), func(t *testing.T) {
					w := newDeployWorld(t, c)
					before := w.tags()
					w.srv.InjectFault(op, ecrlocal.Fault{Code: "ServerException", After: after, Times: times})
					res, err := w.run(c)
					w.checkTruth(t, res, err)
					after := w.tags()
					if err == nil && len(res.Leftovers) == 0 && !maps.Equal(after, c.planned) {
						t.Errorf("succeeded with no leftover, but tags %v, planned %v", after, c.planned)
					}
					if res.Undone && !maps.Equal(after, before) {
						t.Errorf("undone, but tags %v, before %v", after, before)
					}
					if c.referrer {
						for tag, image := range after {
							if image == c.want.image && c.planned[tag] == image && before[tag] != image && !w.referrerIn(image) {
								t.Errorf("tag %q moved to %s before its referrer was in (err %v)", tag, image, err)
							}
						}
					}
					if err != nil && times == 1 && c.want != nil && !res.Undone && !isCleanupCall(err) {
						t.Errorf("one transient fault was not undone: %v", err)
					}
					for tag, was := range before {
						if _, ok := after[tag]; !ok && c.planned[tag] != "" {
							t.Errorf("tag %q (was on %s) names nothing now (err %v)", tag, was, err)
						}
					}
					if c.current != nil && c.want != nil && c.current.image != c.want.image && !w.has(c.current.image) {
						for _, tag := range c.want.tags {
							if after[tag] != c.want.image {
								t.Errorf("%s was deleted while tag %q named %q", c.current.image, tag, after[tag])
							}
						}
					}
				})
			}
		}
	}
}

// isCleanupCall reports errors a deployment may end with after its new
// state is in place, without anything to undo: a removal that failed.
func isCleanupCall(err error) bool {
	var op *OperationError
	return errors.As(err, &op) && (op.Operation == "BatchDeleteImage" || op.Operation == "DescribeImages") ||
		errors.As(err, new(*PutBackError))
}

// TestDeployUndoesATagMovedBeforeAnImmutableConflict: tags a and b, the
// repository's tags immutable, b held by another image. a is moved first
// (it named nothing), then b is refused: a is taken off again, the refusal
// is the error, and ECR holds what it held.
func TestDeployUndoesATagMovedBeforeAnImmutableConflict(t *testing.T) {
	c := deployCase{images: map[string][]string{"X": {"b"}}, want: &namedOwned{"B", []string{"a", "b"}}}
	w := newDeployWorld(t, c)
	w.srv.SetTagMutability(region, "", "team/app", "IMMUTABLE")
	before := w.tags()
	res, err := w.run(c)
	var conflict *TagConflictError
	if !errors.As(err, &conflict) || conflict.Tag != "b" || !res.Undone || res.Owned != nil {
		t.Fatalf("want b's conflict, undone, nothing owned: %+v, %v", res, err)
	}
	if after := w.tags(); !maps.Equal(after, before) {
		t.Fatalf("tags %v, before %v", after, before)
	}
	if w.has("B") {
		t.Fatal("the new image stayed, untagged by the undo of its only tag")
	}
}
