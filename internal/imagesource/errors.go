// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"fmt"
	"strings"
)

// NotImageError is a path that holds no image this package reads.
type NotImageError struct {
	Path string
	Why  string
}

func (e *NotImageError) Error() string {
	return fmt.Sprintf("%s is not an image: %s", e.Path, e.Why)
}

// Candidate is an image (or platform) a source offers, as a *ChoiceError
// lists it.
type Candidate struct {
	// Names are its ref names (annotations) or repository tags.
	Names     []string
	Digest    string
	MediaType string
	Platform  string
}

// How much of a *ChoiceError's list its message shows: a source may list
// thousands of candidates, and a diagnostic of megabytes helps no one.
const (
	maxCandidatesShown = 20
	maxNamesShown      = 5
)

func (c Candidate) String() string {
	var parts []string
	if len(c.Names) > 0 {
		q := make([]string, 0, maxNamesShown)
		for _, n := range c.Names[:min(len(c.Names), maxNamesShown)] {
			q = append(q, fmt.Sprintf("%q", n))
		}
		names := strings.Join(q, ", ")
		if len(c.Names) > maxNamesShown {
			names += fmt.Sprintf(" and %d more names", len(c.Names)-maxNamesShown)
		}
		parts = append(parts, names)
	} else if c.Platform == "" {
		parts = append(parts, "(no name)")
	}
	if c.Platform != "" {
		parts = append(parts, c.Platform)
	}
	parts = append(parts, c.Digest)
	if c.MediaType != "" {
		parts = append(parts, c.MediaType)
	}
	return strings.Join(parts, " ")
}

// distinctCandidates merges the candidates that are the same image (a
// source may list one image many times), keeping each name once.
func distinctCandidates(cs []Candidate) []Candidate {
	type image struct{ digest, platform, mediaType string }
	var out []Candidate
	at := map[image]int{}
	names := map[image]map[string]bool{}
	for _, c := range cs {
		k := image{c.Digest, c.Platform, c.MediaType}
		i, ok := at[k]
		if !ok {
			i, at[k], names[k] = len(out), len(out), map[string]bool{}
			out = append(out, Candidate{Digest: c.Digest, Platform: c.Platform, MediaType: c.MediaType})
		}
		for _, n := range c.Names {
			if !names[k][n] {
				names[k][n] = true
				out[i].Names = append(out[i].Names, n)
			}
		}
	}
	return out
}

// ChoiceError is a source where Options do not pick exactly one image: no
// Ref among several images, a Ref or Platform that matches none (or several).
// Candidates lists what there is to choose from; the message shows each
// image once, and the first maxCandidatesShown.
type ChoiceError struct {
	Path string
	// Problem says what is wrong; Hint what to do.
	Problem, Hint string
	Candidates    []Candidate
}

func (e *ChoiceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Path, e.Problem)
	if e.Hint != "" {
		fmt.Fprintf(&b, "; %s", e.Hint)
	}
	shown := distinctCandidates(e.Candidates)
	if len(shown) > 0 {
		b.WriteString(":")
	}
	for i, c := range shown {
		if i == maxCandidatesShown {
			fmt.Fprintf(&b, "\n  - and %d more", len(shown)-i)
			break
		}
		b.WriteString("\n  - ")
		b.WriteString(c.String())
	}
	return b.String()
}

// MissingError is a blob or manifest the push needs that the source does
// not hold.
type MissingError struct {
	Path   string
	Name   string // the file looked for
	Digest string
	What   string // "blob (media type)", "manifest for linux/arm64", ...
	Hint   string
}

func (e *MissingError) Error() string {
	msg := fmt.Sprintf("%s does not hold the %s %s (looked for %s)", e.Path, e.What, e.Digest, e.Name)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// SizeMismatchError is a file whose size is not the one its descriptor
// gives: it cannot have the right digest.
type SizeMismatchError struct {
	Name      string
	Digest    string
	Want, Got int64
}

func (e *SizeMismatchError) Error() string {
	return fmt.Sprintf("%s is %d bytes, but its descriptor (%s) says %d: the source is corrupted or incomplete",
		e.Name, e.Got, e.Digest, e.Want)
}

// DigestMismatchError is content whose sha256 is not its digest.
type DigestMismatchError struct {
	Name      string
	Want, Got string
	Size      int64
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("%s (%d bytes) has digest %s, not %s as the image says: the source is corrupted; refusing to push it",
		e.Name, e.Size, e.Got, e.Want)
}

// UnsupportedError is something in the source this package does not push.
type UnsupportedError struct {
	Path string
	What string
}

func (e *UnsupportedError) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.What) }

// UnsafeFileError is a file of the source this package refuses to read: a
// name that leaves the source's root (a ".." element, an absolute path, a
// link to outside it), or a file that is not a regular file (a FIFO, a
// device). Pushing it could send any file of the machine to ECR.
type UnsafeFileError struct {
	Path string // the source
	Name string // the name as the source gives it
	Why  string
}

func (e *UnsafeFileError) Error() string {
	return fmt.Sprintf("%s: refusing to read %q: %s", e.Path, e.Name, e.Why)
}

// DiffIDMismatchError is a gzip layer of a legacy docker save tarball that
// does not decompress to the layer its image config names by diff_id, or
// does not decompress at all. The layer's own digest is computed from its
// bytes, so only this check finds it corrupted.
type DiffIDMismatchError struct {
	Name   string // the layer file
	Digest string // the sha256 of the layer file, as pushed
	Want   string // its diff_id in the image config
	Got    string // the sha256 of what it decompresses to; "" when it does not
	Err    error  // why it does not decompress, or nil
}

func (e *DiffIDMismatchError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s (%s) is not a valid gzip stream (%v), so it is not the layer of diff_id %s: "+
			"the source is corrupted; refusing to push it", e.Name, e.Digest, e.Err, e.Want)
	}
	return fmt.Sprintf("%s (%s) decompresses to %s, not to %s, its diff_id in the image config: "+
		"the source is corrupted; refusing to push it", e.Name, e.Digest, e.Got, e.Want)
}

func (e *DiffIDMismatchError) Unwrap() error { return e.Err }

// GunzipLimitError is gzip content (a .tar.gz source, or a gzip layer of a
// legacy docker save tarball) that decompresses to more than Limit bytes
// (maxGunzip): a gzip bomb, or an image too large to decompress at every
// plan. Nothing past Limit is decompressed.
type GunzipLimitError struct {
	Name  string // the gzip file: the source, or the layer within it
	Size  int64  // its size, compressed
	Limit int64
}

func (e *GunzipLimitError) Error() string {
	return fmt.Sprintf("%s (%d bytes of gzip) decompresses to more than %d bytes, the most this reads: it is a gzip "+
		"bomb or an image too large to decompress at every plan; refusing to read it. An OCI image layout (a "+
		"directory, or an uncompressed tar of one) is read without decompressing anything", e.Name, e.Size, e.Limit)
}
