// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// countingStore counts the times each file is read through a store.
type countingStore struct {
	store
	mu    sync.Mutex
	reads map[string]int
}

func (c *countingStore) count(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads[name]++
}

func (c *countingStore) read(name string, fn func(io.ReaderAt, int64) error) error {
	c.count(name)
	return c.store.read(name, fn)
}

func (c *countingStore) open(name string) (io.ReaderAt, int64, error) {
	c.count(name)
	return c.store.open(name)
}

// planWith plans the layout at dir through a countingStore.
func planWith(t *testing.T, dir string, opts Options) (*planner, *countingStore) {
	t.Helper()
	cs := &countingStore{store: must(openDir(dir)), reads: map[string]int{}}
	t.Cleanup(func() { _ = cs.close() })
	p := &planner{path: dir, kind: KindOCILayout, store: cs, opts: opts,
		seenManifests: map[string]bool{}, seenBlobs: map[string]bool{}}
	if opts.Platform != "" {
		p.want = must(parsePlatform(opts.Platform))
	}
	if err := p.planOCI(); err != nil {
		t.Fatalf("%.1000s", err)
	}
	return p, cs
}

// Indexes nested 16 deep, each level's two indexes listing both of the
// level below (2^15 paths to the bottom), are read once each: an Open takes
// time in the number of files, not of paths.
func TestNestedIndexesReadOnce(t *testing.T) {
	dir, amd := nestedLayout(t, 16, 2)
	for _, opts := range []Options{{Platform: "linux/amd64"}, {}} {
		t.Run(fmt.Sprintf("platform %q", opts.Platform), func(t *testing.T) {
			p, cs := planWith(t, dir, opts)
			for name, n := range cs.reads {
				if n > 1 {
					t.Errorf("%s read %d times", name, n)
				}
			}
			top := p.manifests[len(p.manifests)-1]
			if opts.Platform != "" && (top.Digest != must(amd.Digest()).String() || len(p.manifests) != 1) {
				t.Errorf("picked %s of %d manifests", top.Digest, len(p.manifests))
			}
			if opts.Platform == "" && len(p.manifests) != 1+2*14+1+2 {
				t.Errorf("%d manifests, want the 30 indexes under index.json and 2 images", len(p.manifests))
			}
		})
	}
	s := open(t, dir, Options{Platform: "linux/amd64"})
	if s.Digest() != must(amd.Digest()).String() {
		t.Errorf("Open picked %s", s.Digest())
	}
}

// index.json listing one image 1,000 times lists one image: it is pushed,
// with or without a platform.
func TestDuplicateEntriesAreOneImage(t *testing.T) {
	dir, img := duplicateEntries(t, 1000)
	for _, opts := range []Options{{}, {Platform: "linux/amd64"}} {
		s, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("%+v: %d bytes of error: %.1000s", opts, len(err.Error()), err)
		}
		if s.Digest() != must(img.Digest()).String() || len(s.Manifests()) != 1 {
			t.Errorf("%+v: picked %s of %d manifests", opts, s.Digest(), len(s.Manifests()))
		}
		_ = s.Close()
	}
}

// A ChoiceError lists each candidate once, the first maxCandidatesShown
// of them, and a few names of each.
func TestChoiceErrorIsBounded(t *testing.T) {
	var cands []Candidate
	for i := range 25 {
		c := Candidate{Digest: sha([]byte{byte(i)}), Names: []string{fmt.Sprintf("v%d", i)}}
		cands = append(cands, c, c) // each twice
	}
	for i := range 1000 {
		cands = append(cands, Candidate{Digest: cands[0].Digest, Names: []string{fmt.Sprintf("alias%d", i)}})
	}
	msg := (&ChoiceError{Path: "src", Problem: "no ref", Hint: "set ref", Candidates: cands}).Error()
	if len(msg) > maxErrorText {
		t.Errorf("%d bytes", len(msg))
	}
	if n := strings.Count(msg, cands[2].Digest); n != 1 {
		t.Errorf("the second candidate is listed %d times", n)
	}
	for _, want := range []string{cands[0].Digest, `"v0"`, `"alias0"`, cands[2*19].Digest, "and 5 more", "996 more"} {
		if !strings.Contains(msg, want) {
			t.Errorf("does not mention %s", want)
		}
	}
	if strings.Contains(msg, cands[2*20].Digest) {
		t.Error("lists a 21st candidate")
	}
	t.Log(msg)
}
