// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// store is where the source's files are: a directory or a tar file. Names
// are slash-separated and relative to the layout's (or docker save's) root,
// as the source gives them. A name that could lead out of the root, or a
// file that is not a regular file, is an *UnsafeFileError: the names come
// from the source's own JSON, and a push sends what they name to ECR.
type store interface {
	// stat returns the size of the named regular file, or an error wrapping
	// fs.ErrNotExist when there is none.
	stat(name string) (int64, error)
	// read calls fn with the named file, which is released when fn returns:
	// reading a manifest or config holds no file open.
	read(name string, fn func(r io.ReaderAt, size int64) error) error
	// open returns a reader over the named file's size bytes, safe for
	// concurrent ReadAt, valid until close: the file is opened at the first
	// ReadAt, so that a plan holds no blob open.
	open(name string) (io.ReaderAt, int64, error)
	// close releases what open opened.
	close() error
}

// readSmall reads a whole file of at most limit bytes.
func readSmall(s store, name string, limit int64) ([]byte, error) {
	var b []byte
	err := s.read(name, func(r io.ReaderAt, size int64) error {
		if size > limit {
			return fmt.Errorf("%s is %d bytes, more than the %d this reads", name, size, limit)
		}
		b = make([]byte, size)
		n, err := r.ReadAt(b, 0)
		if n == len(b) {
			return nil
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading %s: %w", name, err)
	})
	return b, err
}

// exists reports whether the source holds the named file. It fails when it
// cannot tell, or when the name is refused.
func exists(s store, name string) (bool, error) {
	_, err := s.stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// localName cleans a name as the source gives it, refusing one that is
// absolute or has a ".." element. No image needs "..": refusing it outright
// is simpler to trust than resolving it.
func localName(source, name string) (string, error) {
	why := ""
	switch {
	case name == "":
		why = "the name is empty"
	case path.IsAbs(name) || filepath.IsAbs(filepath.FromSlash(name)) || filepath.VolumeName(filepath.FromSlash(name)) != "":
		why = "it is an absolute path; the files of an image are named relative to its root"
	case slices.Contains(strings.Split(name, "/"), ".."):
		why = `it has a ".." element, which could lead out of the image's root`
	case !filepath.IsLocal(filepath.FromSlash(name)):
		why = "it is not a plain relative name on this system"
	}
	if why != "" {
		return "", &UnsafeFileError{Path: source, Name: name, Why: why}
	}
	return path.Clean(name), nil
}

// notRegular is the error for a file that is not a regular file.
func notRegular(source, name string, mode fs.FileMode) error {
	kind := mode.Type().String()
	switch {
	case mode&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case mode&fs.ModeDevice != 0:
		kind = "a device"
	case mode&fs.ModeSocket != 0:
		kind = "a socket"
	case mode.IsDir():
		kind = "a directory"
	}
	return &UnsafeFileError{Path: source, Name: name, Why: "it is not a regular file but " + kind}
}

// dirStore is a directory, read through an os.Root: no name, ".." or
// symbolic link leads out of it.
type dirStore struct {
	path string
	root *os.Root

	mu    sync.Mutex
	files []*lazyFile
}

func openDir(p string) (*dirStore, error) {
	root, err := os.OpenRoot(p)
	if err != nil {
		return nil, err
	}
	return &dirStore{path: p, root: root}, nil
}

// escapes reports whether err is os.Root refusing a name that leads out of
// it (its error value is not exported; TestBadInputs pins this text).
func escapes(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent"
}

func (d *dirStore) explain(name string, err error) error {
	if escapes(err) {
		return &UnsafeFileError{Path: d.path, Name: name,
			Why: "it is, or goes through, a symbolic link that is absolute or leads out of the image's directory"}
	}
	return err
}

func (d *dirStore) stat(name string) (int64, error) {
	clean, err := localName(d.path, name)
	if err != nil {
		return 0, err
	}
	info, err := d.root.Stat(filepath.FromSlash(clean))
	if err != nil {
		return 0, d.explain(name, err)
	}
	if !info.Mode().IsRegular() {
		return 0, notRegular(d.path, name, info.Mode())
	}
	return info.Size(), nil
}

// openFile opens the named regular file. It checks the file's type before
// opening it (opening a FIFO waits for a writer) and after (the name may
// have changed in between).
func (d *dirStore) openFile(name string) (*os.File, int64, error) {
	if _, err := d.stat(name); err != nil {
		return nil, 0, err
	}
	clean, _ := localName(d.path, name)
	f, err := d.root.Open(filepath.FromSlash(clean))
	if err != nil {
		return nil, 0, d.explain(name, err)
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = notRegular(d.path, name, info.Mode())
	}
	if err != nil {
		_ = f.Close()
		return nil, 0, err
	}
	return f, info.Size(), nil
}

func (d *dirStore) read(name string, fn func(io.ReaderAt, int64) error) error {
	f, size, err := d.openFile(name)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	return fn(f, size)
}

func (d *dirStore) open(name string) (io.ReaderAt, int64, error) {
	size, err := d.stat(name)
	if err != nil {
		return nil, 0, err
	}
	lf := &lazyFile{dir: d, name: name}
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
	return errors.Join(append(errs, d.root.Close())...)
}

// lazyFile opens its file at the first ReadAt, so that a plan with many
// blobs holds no file open, and a push holds open only what it reads.
type lazyFile struct {
	dir  *dirStore
	name string

	mu     sync.Mutex
	f      *os.File
	err    error
	closed bool
}

func (l *lazyFile) file() (*os.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("%s: %w", l.name, os.ErrClosed)
	}
	if l.f == nil && l.err == nil {
		l.f, _, l.err = l.dir.openFile(l.name)
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
