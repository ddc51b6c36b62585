// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Kind is the form of a source on disk.
type Kind string

const (
	// KindOCILayout is an OCI image layout directory (index.json, blobs/).
	KindOCILayout Kind = "oci-layout"
	// KindOCIArchive is a tar of an OCI image layout, including what
	// `docker save` writes from Docker 25 on.
	KindOCIArchive Kind = "oci-archive"
	// KindDockerArchive is a legacy `docker save` tarball (manifest.json,
	// configs and layer tars, no manifests), or such a tarball extracted
	// into a directory.
	KindDockerArchive Kind = "docker-archive"
)

// Limits on what Open reads into memory.
const (
	// maxManifestSize is the largest manifest read: ECR's own limit on a
	// manifest given to PutImage.
	maxManifestSize = 4 << 20
	// maxConfigSize is the largest image config read (legacy tarballs, and
	// images whose descriptor gives no platform).
	maxConfigSize = 16 << 20
	// maxIndexSize is the largest index.json or manifest.json read.
	maxIndexSize = 16 << 20
)

// Options says which image of a source to push.
type Options struct {
	// Ref picks an image among those a layout's index.json lists, by its
	// org.opencontainers.image.ref.name or io.containerd.image.name
	// annotation or its digest ("sha256:..."), or, in a legacy docker save
	// tarball, by one of its RepoTags. Empty: the source must hold one image.
	Ref string
	// Platform, "os/arch[/variant]", picks that platform's image manifest
	// from a multi-platform index; only it is pushed. Empty: an index is
	// pushed whole. With a single image, it must be that platform's.
	Platform string
	// TempDir is where a gzip-compressed tarball is decompressed to; empty:
	// os.TempDir(). Copies left there by processes that are gone are
	// removed (see tempfile.go).
	TempDir string
	// Referrers chooses which of the layout's referrers (manifests of
	// index.json whose subject is a manifest pushed) travel with the image.
	Referrers ReferrerFilter
}

// Manifest is one manifest to push with PutImage: Raw, unchanged, with
// MediaType as imageManifestMediaType.
type Manifest struct {
	// Digest is "sha256:<hex>" of Raw: the image digest ECR will report.
	Digest string
	// MediaType is the manifest's media type (its mediaType field when it
	// has one).
	MediaType string
	// Raw is the manifest's bytes.
	Raw []byte
	// Platform is "os/arch[/variant]" as the index that references the
	// manifest gives it, or as the chosen image's config gives it, or "".
	Platform string
	// Subject is, for a referrer, the digest of the manifest its subject
	// field names; "" for the image's own manifests.
	Subject string
	// ArtifactType is, for a referrer, its artifactType field, else its
	// config's media type (the OCI 1.1 rule); "" for the image's own
	// manifests.
	ArtifactType string
}

// Blob is a config or layer to push before the manifests. Its fields map
// onto ecrpush.Blob (Name, Digest, Size, Content).
type Blob struct {
	// Name says where the blob is in the source, for progress and errors.
	Name string
	// Digest is "sha256:<hex>".
	Digest string
	// Size is its length in bytes.
	Size int64
	// MediaType is what the manifest that references it calls it.
	MediaType string
	// Content reads the blob, from several goroutines at once if need be.
	// It is valid until the Source is closed. It reads the bytes as they
	// are on disk and does not check them against Digest (Open checked only
	// the size): a push checks them, as ECR refuses a layer whose bytes do
	// not hash to its digest at CompleteLayerUpload, before any manifest is
	// put; Verify checks them here.
	Content io.ReaderAt
	// Open reads the blob from offset to its end, for a source that streams
	// (a registry); nil when Content is set. A read from offset 0 is checked
	// against Digest as it streams: the Read that delivers the last byte
	// returns a *DigestMismatchError when they differ (together with n > 0,
	// so do not use io.ReadFull, which drops it). More or fewer bytes than
	// Size is an error too. A read from offset > 0 asks for an HTTP range
	// (Range: bytes=<offset>-), and where the registry answers 200 with the
	// whole blob, reads and discards up to offset; it cannot check the
	// digest (ECR checks it at CompleteLayerUpload).
	Open func(ctx context.Context, offset int64) (io.ReadCloser, error)
}

// Verify reads the whole blob and checks it against its digest: a
// *DigestMismatchError if they differ.
func (b Blob) Verify(ctx context.Context) error {
	if b.Content == nil && b.Open != nil {
		return b.verifyStream(ctx)
	}
	got, err := hashReaderAt(ctx, b.Content, b.Size)
	if err != nil {
		return fmt.Errorf("reading %s: %w", b.Name, err)
	}
	if got != b.Digest {
		return &DigestMismatchError{Name: b.Name, Want: b.Digest, Got: got, Size: b.Size}
	}
	return nil
}

// Source is an image on disk, ready to push. Close it when done.
type Source struct {
	path      string
	kind      Kind
	store     store
	manifests []Manifest
	referrers []Manifest
	blobs     []Blob
	// release frees what a registry source holds (idle connections).
	release func()
}

// Path is the path given to Open.
func (s *Source) Path() string { return s.path }

// Kind is the form the source has on disk.
func (s *Source) Kind() Kind { return s.kind }

// Digest is the digest of the top-level manifest (the chosen image's, or
// the index's when an index is pushed whole): the image digest in ECR.
func (s *Source) Digest() string { return s.top().Digest }

// MediaType is the top-level manifest's media type.
func (s *Source) MediaType() string { return s.top().MediaType }

// Platform is the chosen image's platform when a single image is pushed
// and its platform is known ("os/arch[/variant]"), else "".
func (s *Source) Platform() string { return s.top().Platform }

func (s *Source) top() Manifest { return s.manifests[len(s.manifests)-1] }

// Manifests returns the manifests to push with PutImage, in order: an
// index's children (and theirs) before it. The last is the top-level one.
// Each digest appears once.
func (s *Source) Manifests() []Manifest { return slices.Clone(s.manifests) }

// Referrers returns the referrers to push after Manifests (SBOMs,
// signatures, attestations whose subject is a manifest pushed, and
// recursively theirs), each after its subject, as Options.Referrers or
// RemoteOptions.Referrers chose them. Their blobs are in Blobs.
func (s *Source) Referrers() []Manifest { return slices.Clone(s.referrers) }

// Blobs returns every distinct blob the manifests and referrers reference
// and the source holds (foreign layers, which the source does not hold and
// registries fetch from their URLs, are left out), configs before layers,
// in manifest order, the image's before its referrers'. They must all be in
// the repository before the first PutImage.
func (s *Source) Blobs() []Blob { return slices.Clone(s.blobs) }

// Verify reads every blob and checks it against its digest (manifests were
// checked by Open). It returns the first *DigestMismatchError or read error.
func (s *Source) Verify(ctx context.Context) error {
	for _, b := range s.blobs {
		if err := b.Verify(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the files the Source holds open and removes its temporary
// file, if any. Blob contents are unreadable after it.
func (s *Source) Close() error {
	if s.release != nil {
		s.release()
		s.release = nil
	}
	if s.store == nil {
		return nil
	}
	err := s.store.close()
	s.store = nil
	return err
}

// Open reads the image at path (an OCI image layout directory, a tar of
// one, or a docker save tarball, possibly gzip-compressed), chooses what to
// push according to opts, and returns the push plan. It reads manifests,
// index.json and (for legacy tarballs) configs, and checks that every blob
// is present with the right size; it reads no layer of an OCI layout.
func Open(path string, opts Options) (*Source, error) {
	var want *v1.Platform
	if opts.Platform != "" {
		p, err := parsePlatform(opts.Platform)
		if err != nil {
			return nil, err
		}
		want = p
	}
	info, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &NotImageError{Path: path, Why: "there is no such file or directory"}
		}
		return nil, err
	}
	s := &Source{path: path}
	switch {
	case info.IsDir():
		if s.store, err = openDir(path); err != nil {
			return nil, err
		}
	case info.Mode().IsRegular():
		if s.store, err = openTar(path, opts.TempDir); err != nil {
			return nil, err
		}
	default:
		return nil, &NotImageError{Path: path, Why: fmt.Sprintf("it is neither a directory nor a file (%s)", info.Mode().Type())}
	}
	s.kind, err = kindOf(s.store)
	if err != nil {
		_ = s.store.close()
		return nil, err
	}
	if s.kind == "" {
		_ = s.store.close()
		return nil, &NotImageError{Path: path, Why: notImageWhy}
	}
	p := &planner{path: path, kind: s.kind, store: s.store, opts: opts, want: want,
		seenManifests: map[string]bool{}, seenBlobs: map[string]bool{}}
	if s.kind == KindDockerArchive {
		err = p.planDocker()
	} else {
		err = p.planOCI()
	}
	if err != nil {
		_ = s.store.close()
		return nil, err
	}
	s.manifests, s.referrers, s.blobs = p.manifests, p.referrers, p.blobs
	return s, nil
}

// kindOf tells the kind of source a store holds by its index.json or
// manifest.json, or returns "".
func kindOf(s store) (Kind, error) {
	_, isDir := s.(*dirStore)
	for _, k := range []struct {
		file     string
		dir, tar Kind
	}{{"index.json", KindOCILayout, KindOCIArchive}, {"manifest.json", KindDockerArchive, KindDockerArchive}} {
		ok, err := exists(s, k.file)
		switch {
		case err != nil:
			return "", err
		case ok && isDir:
			return k.dir, nil
		case ok:
			return k.tar, nil
		}
	}
	return "", nil
}

// planner builds a Source's push plan.
type planner struct {
	path  string
	kind  Kind
	store store
	opts  Options
	want  *v1.Platform
	// remote, when not nil, is the registry the manifests and blobs are
	// read from instead of store; ctx bounds those reads.
	remote *remoteSession
	ctx    context.Context

	manifests     []Manifest
	referrers     []Manifest
	seenManifests map[string]bool          // the image's manifests and the referrers taken
	manifestFiles map[string]*manifestFile // by digest, read once
	blobs         []Blob
	seenBlobs     map[string]bool
}

// where names a file of the source in messages.
func (p *planner) where(name string) string {
	if p.remote != nil {
		return p.remote.blobName(strings.ReplaceAll(strings.TrimPrefix(name, "blobs/"), "/", ":"))
	}
	if p.kind == KindOCILayout || (p.kind == KindDockerArchive && p.isDir()) {
		return p.path + string(os.PathSeparator) + strings.ReplaceAll(name, "/", string(os.PathSeparator))
	}
	return p.path + ":" + name
}

func (p *planner) isDir() bool {
	_, ok := p.store.(*dirStore)
	return ok
}

// addManifest appends m to the plan unless it is there already.
func (p *planner) addManifest(m Manifest) {
	if p.seenManifests[m.Digest] {
		return
	}
	p.seenManifests[m.Digest] = true
	p.manifests = append(p.manifests, m)
}

// addBlob appends the blob file at name to the plan, checking its size.
func (p *planner) addBlob(name, digest, mediaType string, size int64) error {
	if p.seenBlobs[digest] {
		return nil
	}
	ra, got, err := p.store.open(name)
	if errors.Is(err, fs.ErrNotExist) && digest == emptyConfigDigest && size == int64(len(emptyConfig)) {
		// Its bytes are known: the layout need not hold them.
		ra, got, err = strings.NewReader(emptyConfig), size, nil
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &MissingError{Path: p.path, Name: name, Digest: digest, What: "blob (" + mediaType + ")"}
		}
		return err
	}
	if size >= 0 && got != size {
		return &SizeMismatchError{Name: p.where(name), Digest: digest, Want: size, Got: got}
	}
	p.seenBlobs[digest] = true
	p.blobs = append(p.blobs, Blob{Name: p.where(name), Digest: digest, Size: got, MediaType: mediaType,
		Content: ra})
	return nil
}
