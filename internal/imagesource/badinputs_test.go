// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// maxErrorText bounds any error Open returns: it becomes a diagnostic.
const maxErrorText = 4 << 10

// TestBadInputs: each source is refused by Open with an error of the given
// type that names what is wrong, in a few lines at most.
func TestBadInputs(t *testing.T) {
	var (
		unsafe      *UnsafeFileError
		diffID      *DiffIDMismatchError
		choice      *ChoiceError
		unsupported *UnsupportedError
	)
	type source struct {
		path    string
		opts    Options
		mention []string
	}
	for _, tc := range []struct {
		name  string
		build func(t *testing.T) source
		want  any // a pointer to the error type
	}{
		{"docker dir names a layer in ../", func(t *testing.T) source {
			dir, _ := dockerDirBeside(t, "config.json", "../outside/secret.gz", nil)
			return source{dir, Options{}, []string{`"../outside/secret.gz"`}}
		}, &unsafe},
		{"docker dir names its config in ../", func(t *testing.T) source {
			dir, _ := dockerDirBeside(t, "../outside/config.json", "l1/layer.tar.gz", nil)
			return source{dir, Options{}, []string{`"../outside/config.json"`}}
		}, &unsafe},
		{"docker dir names a layer by absolute path", func(t *testing.T) source {
			dir, out := dockerDirBeside(t, "config.json", "$OUT/secret.gz", nil)
			return source{dir, Options{}, []string{out + "/secret.gz"}}
		}, &unsafe},
		{"docker dir names a layer through .. that stays inside", func(t *testing.T) source {
			dir, _ := dockerDirBeside(t, "config.json", "l1/../l1/layer.tar.gz", nil)
			return source{dir, Options{}, []string{`"l1/../l1/layer.tar.gz"`}}
		}, &unsafe},
		{"docker dir layer is a symlink to outside", func(t *testing.T) source {
			dir, _ := dockerDirBeside(t, "config.json", "l2/layer.tar.gz",
				map[string]string{"l2/layer.tar.gz": "../../outside/secret.gz"})
			return source{dir, Options{}, []string{`"l2/layer.tar.gz"`}}
		}, &unsafe},
		{"layout blob is an absolute symlink to outside", func(t *testing.T) source {
			var name string
			dir := layoutWithLink(t, func(img v1.Image) string { name = firstLayerName(img); return name })
			return source{dir, Options{}, []string{name}}
		}, &unsafe},
		{"layout index.json is a symlink to outside", func(t *testing.T) source {
			dir := layoutWithLink(t, func(v1.Image) string { return "index.json" })
			return source{dir, Options{}, []string{`"index.json"`}}
		}, &unsafe},
		{"layout blob is a FIFO", func(t *testing.T) source {
			img := platformImage(t, amd64)
			lp := newLayout(t)
			if err := lp.AppendImage(img); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(string(lp), filepath.FromSlash(firstLayerName(img)))
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := mkfifo(p); err != nil {
				t.Skipf("no FIFOs here: %v", err)
			}
			return source{string(lp), Options{}, []string{firstLayerName(img), "not a regular file"}}
		}, &unsafe},
		{"tar names a layer in ../", func(t *testing.T) source {
			return source{tarImageUnder(t, "../secret/layer.tar"), Options{}, []string{`"../secret/layer.tar"`}}
		}, &unsafe},
		{"tar layer is a symlink out of the image's directory", func(t *testing.T) source {
			return source{tarWithLink(t, tar.TypeSymlink, "../../secret/layer.tar"), Options{}, []string{"l1/layer.tar", "../../secret/layer.tar"}}
		}, &unsafe},
		{"tar layer is an absolute symlink", func(t *testing.T) source {
			return source{tarWithLink(t, tar.TypeSymlink, "/l1/real.tar"), Options{}, []string{"l1/layer.tar", "/l1/real.tar"}}
		}, &unsafe},
		{"tar layer is a hard link out of the image's directory", func(t *testing.T) source {
			return source{tarWithLink(t, tar.TypeLink, "secret/layer.tar"), Options{}, []string{"l1/layer.tar", "secret/layer.tar"}}
		}, &unsafe},
		{"tar has a member named ../", func(t *testing.T) source {
			files := legacyTarFiles(t)
			files["../evil"] = []byte("x")
			return source{writeTarFile(t, filepath.Join(t.TempDir(), "evil.tar"), files), Options{}, []string{`"../evil"`}}
		}, &unsafe},
		{"legacy gzip layer corrupted mid-stream", func(t *testing.T) source {
			path, digest, diffID := legacyGzipSave(t, flipMiddle, "")
			return source{path, Options{}, []string{"l1/layer.tar.gz", digest, diffID, "gzip"}}
		}, &diffID},
		{"legacy gzip layer that is not its diff_id", func(t *testing.T) source {
			other := sha([]byte("another layer"))
			path, digest, diffID := legacyGzipSave(t, func([]byte) {}, other)
			return source{path, Options{}, []string{"l1/layer.tar.gz", digest, diffID, other}}
		}, &diffID},
		{"index.json lists one image 100,000 times, ref names none", func(t *testing.T) source {
			dir, img := duplicateEntries(t, 100_000)
			return source{dir, Options{Ref: "nope"}, []string{must(img.Digest()).String()}}
		}, &choice},
		{"manifest.json lists one image under 100,000 tags, no ref", func(t *testing.T) source {
			return source{duplicateTags(t, 100_000), Options{}, []string{"example.com/app:0", "more"}}
		}, &choice},
		{"indexes nested 16 deep, shared, platform not there", func(t *testing.T) source {
			dir, _ := nestedLayout(t, 16, 2)
			return source{dir, Options{Platform: "linux/s390x"}, []string{"linux/amd64", "linux/arm64"}}
		}, &choice},
		{"indexes nested 40 deep, platform", func(t *testing.T) source {
			dir, _ := nestedLayout(t, 40, 1)
			return source{dir, Options{Platform: "linux/amd64"}, []string{"nested"}}
		}, &unsupported},
		{"indexes nested 40 deep, whole", func(t *testing.T) source {
			dir, _ := nestedLayout(t, 40, 1)
			return source{dir, Options{}, []string{"nested"}}
		}, &unsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.build(t)
			s, err := Open(src.path, src.opts)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open accepted it: %d manifests, %d blobs", len(s.Manifests()), len(s.Blobs()))
			}
			msg := err.Error()
			if len(msg) > maxErrorText {
				t.Errorf("the error is %d bytes long:\n%.2000s...", len(msg), msg)
			}
			if !errors.As(err, tc.want) {
				t.Errorf("want a %v, got %T: %.2000s", reflect.TypeOf(tc.want).Elem(), err, msg)
			}
			for _, m := range src.mention {
				if !strings.Contains(msg, m) {
					t.Errorf("the error does not mention %s:\n%.2000s", m, msg)
				}
			}
			t.Logf("%.1000s", msg)
		})
	}
}
