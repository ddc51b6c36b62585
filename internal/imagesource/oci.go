// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations this package reads.
const (
	annotationRefName       = "org.opencontainers.image.ref.name"
	annotationContainerd    = "io.containerd.image.name"
	annotationReferenceType = "vnd.docker.reference.type" // BuildKit's attestation manifests
)

// blobName is where a layout keeps the blob of digest d.
func blobName(d v1.Hash) string { return "blobs/" + d.Algorithm + "/" + d.Hex }

// planOCI plans the push of an OCI layout (directory or tar).
func (p *planner) planOCI() error {
	raw, err := readSmall(p.store, "index.json", maxIndexSize)
	if err != nil {
		return err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", p.where("index.json"), err)
	}
	if len(idx.Manifests) == 0 {
		return &NotImageError{Path: p.path, Why: "its index.json lists no image"}
	}
	bySubject, images := p.layoutReferrers(idx.Manifests)
	if len(images) == 0 {
		return &NotImageError{Path: p.path, Why: "its index.json lists only referrers (manifests whose subject the layout holds), no image"}
	}
	if err := p.chooseOCI(images); err != nil {
		return err
	}
	return p.takeReferrers(func(subject string) ([]v1.Descriptor, error) { return bySubject[subject], nil })
}

// chooseOCI plans the push of the image index.json's entries (its
// referrers left out) and Options choose.
func (p *planner) chooseOCI(entries []v1.Descriptor) error {
	cands := entries
	if p.opts.Ref != "" {
		cands = slices.DeleteFunc(slices.Clone(cands), func(d v1.Descriptor) bool { return !matchesRef(d, p.opts.Ref) })
	}
	// One digest is one image, however many entries (or names) it has.
	cands = distinctDigests(cands)
	if p.opts.Ref != "" {
		switch {
		case len(cands) == 0:
			return &ChoiceError{Path: p.path, Problem: fmt.Sprintf("no image in index.json is named %q", p.opts.Ref),
				Hint: "set ref to one of these (a name or a digest)", Candidates: candidates(entries)}
		case len(cands) > 1:
			return &ChoiceError{Path: p.path, Problem: fmt.Sprintf("%d images in index.json are named %q", len(cands), p.opts.Ref),
				Hint: "set ref to one of their digests instead", Candidates: candidates(cands)}
		}
	}
	if len(cands) > 1 {
		// index.json may itself be the multi-platform index.
		if p.want != nil && allImagesWithPlatforms(cands) {
			child, err := p.choosePlatform(cands, "index.json")
			if err != nil {
				return err
			}
			return p.addImage(child, child.Platform.String())
		}
		return &ChoiceError{Path: p.path, Problem: fmt.Sprintf("index.json lists %d images and no ref picks one", len(cands)),
			Hint: "set ref to one of these (a name or a digest)", Candidates: candidates(cands)}
	}
	return p.planRoot(cands[0])
}

// planRoot plans the push of the image or index root describes: the one
// index.json picks, or the one a registry reference names.
func (p *planner) planRoot(root v1.Descriptor) error {
	raw, mt, err := p.readManifest(root, "")
	if err != nil {
		return err
	}
	switch {
	case mt.IsIndex():
		if p.want == nil {
			return p.addIndex(root, raw, mt, platformOf(root), 1)
		}
		children, err := p.flatten(root, raw)
		if err != nil {
			return err
		}
		child, err := p.choosePlatform(children, "the index "+root.Digest.String())
		if err != nil {
			return err
		}
		return p.addImage(child, child.Platform.String())
	case mt.IsImage():
		plat := platformOf(root)
		// A registry's config is fetched only to check a platform asked
		// for: to name the platform alone is not worth a request to a
		// registry that may count pulls.
		if p.want != nil || (plat == "" && p.remote == nil) {
			have, err := p.configPlatform(raw)
			if err != nil {
				return err
			}
			if have != nil {
				plat = have.String()
			}
			if p.want != nil && (have == nil || !platformMatches(*have, *p.want, p.want.Variant != "")) {
				return &ChoiceError{Path: p.path,
					Problem: fmt.Sprintf("the image is not for platform %s", p.opts.Platform),
					Hint:    "remove platform, or use a source built for it", Candidates: []Candidate{{
						Names: refNames(root), Digest: root.Digest.String(), MediaType: string(mt), Platform: plat}}}
			}
		}
		return p.addImage(root, plat)
	default:
		return &UnsupportedError{Path: p.path, What: fmt.Sprintf("the manifest %s has media type %q, neither an image manifest nor an index", root.Digest, mt)}
	}
}

// maxIndexDepth bounds how deep indexes nest: tools nest one or two.
const maxIndexDepth = 32

// manifestFile is a manifest read and checked against its digest, and what
// its own fields say of its type.
type manifestFile struct {
	raw           []byte
	schemaVersion int
	mediaType     types.MediaType
	hasConfig     bool
	hasManifests  bool
}

// readManifest reads and checks the manifest d describes, once per Open:
// indexes may share children, and reading them again for each path that
// leads to them takes time exponential in the nesting. It returns its bytes
// and media type: its own mediaType field, else the descriptor's, else what
// its fields say it is.
func (p *planner) readManifest(d v1.Descriptor, what string) ([]byte, types.MediaType, error) {
	if d.Digest.Algorithm != "sha256" {
		return nil, "", &UnsupportedError{Path: p.path, What: fmt.Sprintf("manifest digest %s: only sha256 digests are pushed to ECR", d.Digest)}
	}
	if d.Size > maxManifestSize {
		return nil, "", &UnsupportedError{Path: p.path, What: fmt.Sprintf("the manifest %s is %d bytes, more than ECR's limit of %d", d.Digest, d.Size, maxManifestSize)}
	}
	name := blobName(d.Digest)
	f, ok := p.manifestFiles[d.Digest.String()]
	if !ok {
		var err error
		if f, err = p.loadManifest(d, what); err != nil {
			return nil, "", err
		}
		if p.manifestFiles == nil {
			p.manifestFiles = map[string]*manifestFile{}
		}
		p.manifestFiles[d.Digest.String()] = f
	}
	if int64(len(f.raw)) != d.Size {
		return nil, "", &SizeMismatchError{Name: p.where(name), Digest: d.Digest.String(), Want: d.Size, Got: int64(len(f.raw))}
	}
	mt := f.mediaType
	switch {
	case mt != "" && d.MediaType != "" && mt != d.MediaType:
		return nil, "", &UnsupportedError{Path: p.path, What: fmt.Sprintf(
			"the manifest %s says its media type is %s, its descriptor says %s", d.Digest, mt, d.MediaType)}
	case mt == "" && d.MediaType != "":
		mt = d.MediaType
	case mt == "" && f.hasManifests:
		mt = types.OCIImageIndex
	case mt == "" && f.hasConfig:
		mt = types.OCIManifestSchema1
	}
	if mt.IsSchema1() || f.schemaVersion == 1 {
		return nil, "", &UnsupportedError{Path: p.path, What: fmt.Sprintf("the manifest %s is Docker schema 1, which ECR no longer takes", d.Digest)}
	}
	return f.raw, mt, nil
}

// loadManifest reads the manifest d describes and checks it against d.
func (p *planner) loadManifest(d v1.Descriptor, what string) (*manifestFile, error) {
	if p.remote != nil {
		raw, err := p.remote.manifest(p.ctx, d)
		if err != nil {
			return nil, err
		}
		return parseManifestFile(raw, p.remote.blobName(d.Digest.String()))
	}
	name := blobName(d.Digest)
	size, err := p.store.stat(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if what == "" {
				what = "manifest"
			}
			return nil, &MissingError{Path: p.path, Name: name, Digest: d.Digest.String(), What: what}
		}
		return nil, err
	}
	if size != d.Size {
		return nil, &SizeMismatchError{Name: p.where(name), Digest: d.Digest.String(), Want: d.Size, Got: size}
	}
	raw, err := readSmall(p.store, name, maxManifestSize)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != d.Digest.String() {
		return nil, &DigestMismatchError{Name: p.where(name), Want: d.Digest.String(), Got: got, Size: int64(len(raw))}
	}
	return parseManifestFile(raw, p.where(name))
}

// parseManifestFile reads what a manifest's own fields say of its type;
// where names it in errors.
func parseManifestFile(raw []byte, where string) (*manifestFile, error) {
	var doc struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     types.MediaType `json:"mediaType"`
		Config        json.RawMessage `json:"config"`
		Manifests     json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s is not a manifest: %w", where, err)
	}
	return &manifestFile{raw: raw, schemaVersion: doc.SchemaVersion, mediaType: doc.MediaType,
		hasConfig: doc.Config != nil, hasManifests: doc.Manifests != nil}, nil
}

// tooDeep is the error for an index nested more than maxIndexDepth deep.
func (p *planner) tooDeep(d v1.Descriptor) error {
	return &UnsupportedError{Path: p.path, What: fmt.Sprintf(
		"the index %s is nested more than %d indexes deep; no image tool nests indexes so", d.Digest, maxIndexDepth)}
}

// addIndex plans the push of an index and everything it references,
// children first.
func (p *planner) addIndex(d v1.Descriptor, raw []byte, mt types.MediaType, plat string, depth int) error {
	if p.seenManifests[d.Digest.String()] {
		return nil
	}
	if depth > maxIndexDepth {
		return p.tooDeep(d)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", p.where(blobName(d.Digest)), err)
	}
	for _, c := range idx.Manifests {
		what := "manifest"
		if pl := platformOf(c); pl != "" {
			what = "manifest for " + pl
		}
		craw, cmt, err := p.readManifest(c, what)
		if err != nil {
			var missing *MissingError
			if errors.As(err, &missing) {
				missing.Hint = fmt.Sprintf("the index %s references it; set platform to push one platform's image only", d.Digest)
			}
			return err
		}
		switch {
		case cmt.IsIndex():
			err = p.addIndex(c, craw, cmt, platformOf(c), depth+1)
		case cmt.IsImage():
			err = p.addImageManifest(c, craw, cmt, platformOf(c))
		default:
			err = &UnsupportedError{Path: p.path, What: fmt.Sprintf("the index %s references %s of media type %q, neither an image manifest nor an index", d.Digest, c.Digest, cmt)}
		}
		if err != nil {
			return err
		}
	}
	p.addManifest(Manifest{Digest: d.Digest.String(), MediaType: string(mt), Raw: raw, Platform: plat})
	return nil
}

// addImage plans the push of an image manifest and its blobs.
func (p *planner) addImage(d v1.Descriptor, plat string) error {
	raw, mt, err := p.readManifest(d, "")
	if err != nil {
		return err
	}
	if !mt.IsImage() {
		return &UnsupportedError{Path: p.path, What: fmt.Sprintf("the manifest %s has media type %q, not an image manifest's", d.Digest, mt)}
	}
	return p.addImageManifest(d, raw, mt, plat)
}

func (p *planner) addImageManifest(d v1.Descriptor, raw []byte, mt types.MediaType, plat string) error {
	if p.seenManifests[d.Digest.String()] {
		return nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", p.where(blobName(d.Digest)), err)
	}
	if err := p.addManifestBlobs(m); err != nil {
		return err
	}
	p.addManifest(Manifest{Digest: d.Digest.String(), MediaType: string(mt), Raw: raw, Platform: plat})
	return nil
}

// addManifestBlobs plans the push of an image manifest's config and layers
// (an image's or a referrer's).
func (p *planner) addManifestBlobs(m *v1.Manifest) error {
	for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if b.Digest.Algorithm != "sha256" {
			return &UnsupportedError{Path: p.path, What: fmt.Sprintf("blob digest %s: only sha256 digests are pushed to ECR", b.Digest)}
		}
		name := blobName(b.Digest)
		if p.remote != nil {
			if len(b.URLs) > 0 || !b.MediaType.IsDistributable() {
				continue // a foreign layer: registries fetch it from its URLs
			}
			p.addRemoteBlob(b)
			continue
		}
		if len(b.URLs) > 0 {
			held, err := exists(p.store, name)
			if err != nil {
				return err
			}
			if !held {
				continue // a foreign layer: registries fetch it from its URLs
			}
		}
		if err := p.addBlob(name, b.Digest.String(), string(b.MediaType), b.Size); err != nil {
			return err
		}
	}
	return nil
}

// flatten returns the image manifests the index d references, through
// nested indexes, attestations included, each digest once, reading each
// nested index once however many paths lead to it.
func (p *planner) flatten(d v1.Descriptor, raw []byte) ([]v1.Descriptor, error) {
	var out []v1.Descriptor
	seen := map[string]bool{d.Digest.String(): true}
	var walk func(d v1.Descriptor, raw []byte, depth int) error
	walk = func(d v1.Descriptor, raw []byte, depth int) error {
		if depth > maxIndexDepth {
			return p.tooDeep(d)
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("%s: %w", p.where(blobName(d.Digest)), err)
		}
		for _, c := range idx.Manifests {
			if seen[c.Digest.String()] {
				continue
			}
			seen[c.Digest.String()] = true
			if !c.MediaType.IsIndex() {
				out = append(out, c)
				continue
			}
			craw, _, err := p.readManifest(c, "nested index")
			if err != nil {
				return err
			}
			if err := walk(c, craw, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(d, raw, 1)
}

// configPlatform reads the platform from an image manifest's config, or
// returns nil when the config gives none.
func (p *planner) configPlatform(raw []byte) (*v1.Platform, error) {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	name := blobName(m.Config.Digest)
	if !m.Config.MediaType.IsConfig() {
		return nil, nil // an artifact: no platform
	}
	var cfgRaw []byte
	if p.remote != nil {
		cfgRaw, err = p.remote.smallBlob(p.ctx, m.Config, maxConfigSize)
	} else {
		cfgRaw, err = readSmall(p.store, name, maxConfigSize)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &MissingError{Path: p.path, Name: name, Digest: m.Config.Digest.String(), What: "config"}
		}
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.where(name), err)
	}
	if cfg.OS == "" || cfg.Architecture == "" {
		return nil, nil
	}
	return cfg.Platform(), nil
}
