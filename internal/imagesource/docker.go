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
	"io"
	"io/fs"
	"path"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// dockerManifest is the Docker schema 2 manifest built for a legacy docker
// save image. Its field order is fixed here, not by a library: it decides
// the digest of every image pushed from such a tarball (the same order as
// Docker's and go-containerregistry's).
type dockerManifest struct {
	SchemaVersion int                `json:"schemaVersion"`
	MediaType     string             `json:"mediaType"`
	Config        dockerDescriptor   `json:"config"`
	Layers        []dockerDescriptor `json:"layers"`
}

type dockerDescriptor struct {
	MediaType string   `json:"mediaType"`
	Size      int64    `json:"size"`
	Digest    string   `json:"digest"`
	URLs      []string `json:"urls,omitempty"`
}

// sameReference reports whether two image references name the same image
// once normalized ("alpine" is "index.docker.io/library/alpine:latest").
func sameReference(a, b string) bool {
	ra, err := name.ParseReference(a)
	if err != nil {
		return false
	}
	rb, err := name.ParseReference(b)
	if err != nil {
		return false
	}
	return ra.Name() == rb.Name()
}

// planDocker plans the push of a legacy docker save image.
func (p *planner) planDocker() error {
	raw, err := readSmall(p.store, "manifest.json", maxIndexSize)
	if err != nil {
		return err
	}
	var images tarball.Manifest
	if err := json.Unmarshal(raw, &images); err != nil {
		return fmt.Errorf("%s is not a docker save manifest.json: %w", p.where("manifest.json"), err)
	}
	if len(images) == 0 {
		return &NotImageError{Path: p.path, Why: "its manifest.json lists no image"}
	}
	cands := images
	if p.opts.Ref != "" {
		cands = slices.DeleteFunc(slices.Clone(images), func(d tarball.Descriptor) bool {
			return !slices.ContainsFunc(d.RepoTags, func(t string) bool { return t == p.opts.Ref || sameReference(t, p.opts.Ref) })
		})
		if len(cands) == 0 {
			return &ChoiceError{Path: p.path, Problem: fmt.Sprintf("no image in manifest.json is tagged %q", p.opts.Ref),
				Hint: "set ref to one of these tags", Candidates: p.dockerCandidates(images)}
		}
	}
	if len(cands) > 1 {
		return &ChoiceError{Path: p.path, Problem: fmt.Sprintf("manifest.json lists %d images and no ref picks one", len(cands)),
			Hint: "set ref to one of these tags", Candidates: p.dockerCandidates(cands)}
	}
	img := cands[0]

	cfgName := img.Config
	cfgRaw, err := readSmall(p.store, cfgName, maxConfigSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &MissingError{Path: p.path, Name: cfgName, What: "image config"}
		}
		return err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return fmt.Errorf("%s: %w", p.where(cfgName), err)
	}
	plat := ""
	if cfg.OS != "" && cfg.Architecture != "" {
		plat = cfg.Platform().String()
	}
	if p.want != nil && (plat == "" || !platformMatches(*cfg.Platform(), *p.want, p.want.Variant != "")) {
		return &ChoiceError{Path: p.path, Problem: fmt.Sprintf("the image is not for platform %s", p.opts.Platform),
			Hint: "remove platform, or use a source built for it", Candidates: p.dockerCandidates([]tarball.Descriptor{img})}
	}
	if len(img.Layers) != len(cfg.RootFS.DiffIDs) {
		return &UnsupportedError{Path: p.path, What: fmt.Sprintf("manifest.json lists %d layers, the image config %d diff_ids",
			len(img.Layers), len(cfg.RootFS.DiffIDs))}
	}
	cfgSum := sha256.Sum256(cfgRaw)
	m := dockerManifest{
		SchemaVersion: 2,
		MediaType:     string(types.DockerManifestSchema2),
		Config: dockerDescriptor{MediaType: string(types.DockerConfigJSON), Size: int64(len(cfgRaw)),
			Digest: "sha256:" + hex.EncodeToString(cfgSum[:])},
	}
	if err := p.addBlob(cfgName, m.Config.Digest, m.Config.MediaType, m.Config.Size); err != nil {
		return err
	}
	for i, layerName := range img.Layers {
		diffID := cfg.RootFS.DiffIDs[i]
		if src, ok := img.LayerSources[diffID]; ok {
			held, err := exists(p.store, layerName)
			if err != nil {
				return err
			}
			if !held {
				// A foreign layer: in the manifest, not pushed.
				m.Layers = append(m.Layers, dockerDescriptor{MediaType: string(src.MediaType), Size: src.Size,
					Digest: src.Digest.String(), URLs: src.URLs})
				continue
			}
		}
		d, err := p.dockerLayer(layerName, diffID)
		if err != nil {
			return err
		}
		if err := p.addBlob(layerName, d.Digest, d.MediaType, d.Size); err != nil {
			return err
		}
		m.Layers = append(m.Layers, d)
	}
	manifest, err := json.Marshal(m)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(manifest)
	p.addManifest(Manifest{Digest: "sha256:" + hex.EncodeToString(sum[:]), MediaType: m.MediaType, Raw: manifest, Platform: plat})
	return nil
}

// dockerLayer describes a layer file of a legacy tarball: an uncompressed
// one by its diff_id (not read: the push checks it), a gzip one by its hash,
// read whole and checked against its diff_id in the same pass (nothing else
// would check what it decompresses to).
func (p *planner) dockerLayer(layerName string, diffID v1.Hash) (dockerDescriptor, error) {
	if diffID.Algorithm != "sha256" {
		return dockerDescriptor{}, &UnsupportedError{Path: p.path, What: fmt.Sprintf("diff_id %s: only sha256 digests are pushed to ECR", diffID)}
	}
	var d dockerDescriptor
	err := p.store.read(layerName, func(r io.ReaderAt, size int64) error {
		head := make([]byte, 8)
		n, err := r.ReadAt(head, 0)
		if n < len(head) && err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading %s: %w", p.where(layerName), err)
		}
		switch c := compressionOf(head[:n]); c {
		case "":
			d = dockerDescriptor{MediaType: string(types.DockerUncompressedLayer), Size: size, Digest: diffID.String()}
			return nil
		case "gzip":
			digest, got, gzErr, err := hashGzip(r, size, p.where(layerName))
			var limit *GunzipLimitError
			if errors.As(err, &limit) {
				return err
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", p.where(layerName), err)
			}
			if gzErr != nil || got != diffID.String() {
				return &DiffIDMismatchError{Name: p.where(layerName), Digest: digest, Want: diffID.String(), Got: got, Err: gzErr}
			}
			d = dockerDescriptor{MediaType: string(types.DockerLayer), Size: size, Digest: digest}
			return nil
		default:
			return &UnsupportedError{Path: p.path, What: fmt.Sprintf(
				"the layer %s is %s-compressed, which a Docker schema 2 manifest cannot describe; save the image as an OCI layout instead",
				path.Base(layerName), c)}
		}
	})
	if errors.Is(err, fs.ErrNotExist) {
		return dockerDescriptor{}, &MissingError{Path: p.path, Name: layerName, Digest: diffID.String(), What: "layer"}
	}
	return d, err
}

// dockerCandidates lists images of manifest.json, reading each config once
// (manifest.json may list one image under many tags).
func (p *planner) dockerCandidates(ds []tarball.Descriptor) []Candidate {
	out := make([]Candidate, 0, len(ds))
	byConfig := map[string]Candidate{}
	for _, d := range ds {
		c, ok := byConfig[d.Config]
		if !ok {
			c = Candidate{Digest: "config " + path.Base(d.Config)}
			if raw, err := readSmall(p.store, d.Config, maxConfigSize); err == nil {
				sum := sha256.Sum256(raw)
				c.Digest = "config sha256:" + hex.EncodeToString(sum[:])
				if cfg, err := v1.ParseConfigFile(bytes.NewReader(raw)); err == nil && cfg.OS != "" {
					c.Platform = cfg.Platform().String()
				}
			}
			byConfig[d.Config] = c
		}
		c.Names = d.RepoTags
		out = append(out, c)
	}
	return out
}
