// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// tarStore is a tar file, read in place: members are sections of it. It is
// never extracted, so a name can only lead to another member; still, every
// name must stay within the image's root in the tar, as in a directory.
type tarStore struct {
	path    string // the source
	f       *os.File
	temp    string // a decompressed copy to remove on close, or ""
	prefix  string // the directory within the tar that holds the layout, "" or "dir/"
	members map[string]*tarMember
}

type tarMember struct {
	name     string
	typeflag byte
	linkname string
	offset   int64
	size     int64
}

// maxLinks bounds how many links stat and open follow.
const maxLinks = 16

// memberName is how a tar names its members: a leading "/" is dropped, as
// tar does when it extracts.
func memberName(name string) string {
	return path.Clean(strings.TrimPrefix(name, "/"))
}

// inRoot reports whether a member name is within the image's root.
func (t *tarStore) inRoot(member string) bool {
	return strings.HasPrefix(member, t.prefix) && fs.ValidPath(member)
}

func (t *tarStore) resolve(name string) (*tarMember, error) {
	clean, err := localName(t.path, name)
	if err != nil {
		return nil, err
	}
	member := t.prefix + clean
	for range maxLinks {
		m, ok := t.members[member]
		if !ok {
			return nil, fmt.Errorf("%s is not in the tar: %w", member, fs.ErrNotExist)
		}
		switch m.typeflag {
		case tar.TypeReg:
			return m, nil
		case tar.TypeSymlink:
			if path.IsAbs(m.linkname) {
				return nil, &UnsafeFileError{Path: t.path, Name: name,
					Why: fmt.Sprintf("%s is a symbolic link to an absolute path, %s", m.name, m.linkname)}
			}
			member = path.Join(path.Dir(member), m.linkname)
		case tar.TypeLink:
			member = memberName(m.linkname)
		default:
			return nil, &UnsafeFileError{Path: t.path, Name: name,
				Why: fmt.Sprintf("%s in the tar is not a regular file (type %q)", m.name, m.typeflag)}
		}
		if !t.inRoot(member) {
			return nil, &UnsafeFileError{Path: t.path, Name: name,
				Why: fmt.Sprintf("the link %s -> %s leads out of the image's directory in the tar", m.name, m.linkname)}
		}
	}
	return nil, fmt.Errorf("%s: more than %d links to follow in the tar", name, maxLinks)
}

func (t *tarStore) stat(name string) (int64, error) {
	m, err := t.resolve(name)
	if err != nil {
		return 0, err
	}
	return m.size, nil
}

func (t *tarStore) read(name string, fn func(io.ReaderAt, int64) error) error {
	r, size, err := t.open(name)
	if err != nil {
		return err
	}
	return fn(r, size)
}

func (t *tarStore) open(name string) (io.ReaderAt, int64, error) {
	m, err := t.resolve(name)
	if err != nil {
		return nil, 0, err
	}
	return io.NewSectionReader(t.f, m.offset, m.size), m.size, nil
}

func (t *tarStore) close() error {
	err := t.f.Close()
	if t.temp != "" {
		err = errors.Join(err, os.Remove(t.temp))
	}
	return err
}

// offsetReader is a file read by archive/tar: it tracks where the reader is,
// so that each member's offset is known, and lets tar seek past contents.
type offsetReader struct {
	f   *os.File
	off int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.f.Read(p)
	o.off += int64(n)
	return n, err
}

func (o *offsetReader) Seek(offset int64, whence int) (int64, error) {
	n, err := o.f.Seek(offset, whence)
	if err == nil {
		o.off = n
	}
	return n, err
}

// index reads the headers of the tar file t.f. It returns errNotTar when
// the first header cannot be read, and refuses a tar with a member named
// out of it ("../x"): no image tool writes one.
func (t *tarStore) index() error {
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	or := &offsetReader{f: t.f}
	tr := tar.NewReader(or)
	t.members = make(map[string]*tarMember)
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if i == 0 {
				return errNotTar
			}
			return nil
		}
		if err != nil {
			if i == 0 {
				return errNotTar
			}
			return fmt.Errorf("reading the tar after %d members: %w", i, err)
		}
		name := memberName(hdr.Name)
		if !fs.ValidPath(name) {
			return &UnsafeFileError{Path: t.path, Name: hdr.Name, Why: "a member of the tar is named out of the tar"}
		}
		// archive/tar reads headers block by block without buffering, so
		// the underlying file is at the start of the member's contents.
		t.members[name] = &tarMember{name: name, typeflag: hdr.Typeflag, linkname: hdr.Linkname,
			offset: or.off, size: hdr.Size}
	}
}

var errNotTar = errors.New("not a tar archive")

// Magic numbers of compressed files.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	xzMagic   = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	bzipMagic = []byte{'B', 'Z', 'h'}
)

// compressionOf names the compression of what starts with head, or "".
func compressionOf(head []byte) string {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return "gzip"
	case bytes.HasPrefix(head, zstdMagic):
		return "zstd"
	case bytes.HasPrefix(head, xzMagic):
		return "xz"
	case bytes.HasPrefix(head, bzipMagic):
		return "bzip2"
	}
	return ""
}

// openTar opens the file at p as a tar store: a gzip file is decompressed
// into a temporary file in tempDir first.
func openTar(p, tempDir string) (*tarStore, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	t := &tarStore{path: p, f: f}
	switch c := compressionOf(head); c {
	case "":
	case "gzip":
		if err := t.gunzip(tempDir); err != nil {
			_ = t.close()
			var limit *GunzipLimitError
			if errors.As(err, &limit) {
				return nil, err
			}
			return nil, fmt.Errorf("decompressing %s: %w", p, err)
		}
	default:
		_ = f.Close()
		return nil, &NotImageError{Path: p, Why: fmt.Sprintf(
			"it is %s-compressed, which this does not read: decompress it, or use an uncompressed or gzip tarball", c)}
	}
	if err := t.index(); err != nil {
		_ = t.close()
		if errors.Is(err, errNotTar) {
			return nil, &NotImageError{Path: p, Why: notImageWhy}
		}
		var unsafe *UnsafeFileError
		if errors.As(err, &unsafe) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	t.findRoot()
	return t, nil
}

// gunzip replaces t.f, a gzip file, by a decompressed temporary copy of at
// most maxGunzip bytes.
func (t *tarStore) gunzip(tempDir string) error {
	info, err := t.f.Stat()
	if err != nil {
		return err
	}
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	zr, err := gzip.NewReader(t.f)
	if err != nil {
		return err
	}
	tmp, err := createTemp(tempDir)
	if err != nil {
		return err
	}
	err = gunzipTo(tmp, zr, t.path, info.Size())
	if err == nil {
		err = zr.Close()
	}
	_ = t.f.Close()
	t.f, t.temp = tmp, tmp.Name()
	return err
}

const notImageWhy = "it is neither an OCI image layout (a directory, or a tar of one, with index.json) nor a docker save tarball (with manifest.json)"

// findRoot sets the directory within the tar that holds index.json or
// manifest.json: the tar's root, or its only top directory that does (a tar
// made with `tar cf x.tar dir`).
func (t *tarStore) findRoot() {
	if _, ok := t.members["index.json"]; ok {
		return
	}
	if _, ok := t.members["manifest.json"]; ok {
		return
	}
	roots := make(map[string]bool)
	for name := range t.members {
		dir, file := path.Split(name)
		if (file == "index.json" || file == "manifest.json") && strings.Count(dir, "/") == 1 {
			roots[dir] = true
		}
	}
	if len(roots) == 1 {
		for dir := range roots {
			t.prefix = dir
		}
	}
}
