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
	"path/filepath"
	"strings"
	"sync"
)

// store is where the source's files are: a directory or a tar file. Names
// are slash-separated and relative to the layout's (or docker save's) root.
type store interface {
	// stat returns the size of the named regular file, or an error wrapping
	// fs.ErrNotExist when there is none.
	stat(name string) (int64, error)
	// open returns a reader over the named file's size bytes, safe for
	// concurrent ReadAt. It may open the file lazily.
	open(name string) (io.ReaderAt, int64, error)
	// close releases what open opened.
	close() error
}

// readSmall reads a whole file of at most limit bytes.
func readSmall(s store, name string, limit int64) ([]byte, error) {
	ra, size, err := s.open(name)
	if err != nil {
		return nil, err
	}
	if size > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d this reads", name, size, limit)
	}
	b := make([]byte, size)
	n, err := ra.ReadAt(b, 0)
	if n == len(b) {
		return b, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("reading %s: %w", name, err)
}

// dirStore is a directory.
type dirStore struct {
	root string

	mu    sync.Mutex
	files []*lazyFile
}

func (d *dirStore) full(name string) string {
	return filepath.Join(d.root, filepath.FromSlash(name))
}

func (d *dirStore) stat(name string) (int64, error) {
	info, err := os.Stat(d.full(name))
	if err != nil {
		return 0, err
	}
	if !info.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file (%s)", d.full(name), info.Mode().Type())
	}
	return info.Size(), nil
}

func (d *dirStore) open(name string) (io.ReaderAt, int64, error) {
	size, err := d.stat(name)
	if err != nil {
		return nil, 0, err
	}
	lf := &lazyFile{path: d.full(name)}
	d.mu.Lock()
	d.files = append(d.files, lf)
	d.mu.Unlock()
	return io.NewSectionReader(lf, 0, size), size, nil
}

func (d *dirStore) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, f := range d.files {
		errs = append(errs, f.close())
	}
	d.files = nil
	return errors.Join(errs...)
}

// lazyFile opens its file at the first ReadAt, so that a plan with many
// blobs holds no file open, and a push holds open only what it reads.
type lazyFile struct {
	path string

	mu     sync.Mutex
	f      *os.File
	err    error
	closed bool
}

func (l *lazyFile) file() (*os.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("%s: %w", l.path, os.ErrClosed)
	}
	if l.f == nil && l.err == nil {
		l.f, l.err = os.Open(l.path)
	}
	return l.f, l.err
}

func (l *lazyFile) ReadAt(p []byte, off int64) (int, error) {
	f, err := l.file()
	if err != nil {
		return 0, err
	}
	return f.ReadAt(p, off)
}

func (l *lazyFile) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// tarStore is a tar file, read in place: members are sections of it.
type tarStore struct {
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

func (t *tarStore) resolve(name string) (*tarMember, error) {
	name = path.Clean(t.prefix + name)
	for range maxLinks {
		m, ok := t.members[name]
		if !ok {
			return nil, fmt.Errorf("%s is not in the tar: %w", name, fs.ErrNotExist)
		}
		switch m.typeflag {
		case tar.TypeReg:
			return m, nil
		case tar.TypeSymlink:
			if path.IsAbs(m.linkname) {
				name = path.Clean(strings.TrimPrefix(m.linkname, "/"))
			} else {
				name = path.Join(path.Dir(name), m.linkname)
			}
		case tar.TypeLink:
			name = cleanTarName(m.linkname)
		default:
			return nil, fmt.Errorf("%s in the tar is not a regular file (type %q)", name, m.typeflag)
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

func cleanTarName(name string) string {
	return path.Clean(strings.TrimPrefix(name, "/"))
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

// indexTar reads the headers of the tar file f. It returns an error saying
// it is not a tar when the first header cannot be read.
func indexTar(f *os.File) (map[string]*tarMember, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	or := &offsetReader{f: f}
	tr := tar.NewReader(or)
	members := make(map[string]*tarMember)
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if i == 0 {
				return nil, errNotTar
			}
			return members, nil
		}
		if err != nil {
			if i == 0 {
				return nil, errNotTar
			}
			return nil, fmt.Errorf("reading the tar after %d members: %w", i, err)
		}
		// archive/tar reads headers block by block without buffering, so
		// the underlying file is at the start of the member's contents.
		name := cleanTarName(hdr.Name)
		members[name] = &tarMember{name: name, typeflag: hdr.Typeflag, linkname: hdr.Linkname,
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
	t := &tarStore{f: f}
	switch c := compressionOf(head); c {
	case "":
	case "gzip":
		if err := t.gunzip(tempDir); err != nil {
			_ = t.close()
			return nil, fmt.Errorf("decompressing %s: %w", p, err)
		}
	default:
		_ = f.Close()
		return nil, &NotImageError{Path: p, Why: fmt.Sprintf(
			"it is %s-compressed, which this does not read: decompress it, or use an uncompressed or gzip tarball", c)}
	}
	t.members, err = indexTar(t.f)
	if err != nil {
		_ = t.close()
		if errors.Is(err, errNotTar) {
			return nil, &NotImageError{Path: p, Why: notImageWhy}
		}
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return t, nil
}

// gunzip replaces t.f, a gzip file, by a decompressed temporary copy.
func (t *tarStore) gunzip(tempDir string) error {
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	zr, err := gzip.NewReader(t.f)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(tempDir, "imagesource-*.tar")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, zr)
	if err == nil {
		err = zr.Close()
	}
	_ = t.f.Close()
	t.f, t.temp = tmp, tmp.Name()
	return err
}

const notImageWhy = "it is neither an OCI image layout (a directory, or a tar of one, with index.json) nor a docker save tarball (with manifest.json)"

// findRoot returns the directory within the tar that holds index.json or
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
