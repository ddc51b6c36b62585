// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"hash"
	"os"
	"unsafe"
)

// Writing a part's bytes through the page cache cost more CPU than anything
// else the endpoint does but hashing them: the kernel copies every byte into
// pages it has just allocated, and on a virtual machine that hands freed
// memory back to its host, each such page first costs a fault in the host
// (1.3 s of system time per GiB, where the copy alone is 0.2). So where it
// can (Linux), the endpoint writes the page-aligned middle of each part with
// direct I/O, from a pooled aligned buffer, which the disk reads itself; the
// unaligned edges, and everything where direct I/O is refused, go through
// the page cache. Either way the file holds the same bytes.

// writePart hashes data into digest and writes it to f (the file at path)
// from offset off on.
func writePart(f *os.File, path string, digest hash.Hash, data []byte, off int64) error {
	var direct *os.File
	if len(data) >= directMin {
		direct, _ = directOpener(path) // nil where there is no direct I/O
	}
	if direct != nil {
		defer func() { _ = direct.Close() }()
	}
	for len(data) > 0 {
		head := int(min(int64(len(data)), alignUp(off)-off))
		if direct == nil || head > 0 || len(data) < pageAlign {
			// Through the page cache: up to the next aligned offset, or all
			// of it when direct I/O is out.
			n := len(data)
			if direct != nil {
				n = head
				if n == 0 {
					n = len(data) // the tail, shorter than a page
				}
			}
			n = min(n, writeChunk)
			_, _ = digest.Write(data[:n]) // never fails
			if _, err := f.WriteAt(data[:n], off); err != nil {
				return err
			}
			data, off = data[n:], off+int64(n)
			continue
		}
		// At an aligned offset: written from where the bytes are when that
		// is aligned too (decodeRequest sees to it), else hashed and copied
		// 256 KiB at a time, while in the CPU's cache, to an aligned buffer.
		n := min(len(data), directChunk) &^ (pageAlign - 1)
		var err error
		if isAligned(data) {
			_, _ = digest.Write(data[:n])
			_, err = direct.WriteAt(data[:n], off)
		} else {
			bp := getAligned()
			for i := 0; i < n; i += hashChunk {
				piece := data[i:min(i+hashChunk, n)]
				_, _ = digest.Write(piece)
				copy(bp.b[i:], piece)
			}
			_, err = direct.WriteAt(bp.b[:n], off)
			putAligned(bp)
		}
		if err != nil {
			// Refused (alignment, or the file system): the page cache then,
			// for the rest of the part. The bytes are hashed already.
			_ = direct.Close()
			direct = nil
			if _, err := f.WriteAt(data[:n], off); err != nil {
				return err
			}
		}
		data, off = data[n:], off+int64(n)
	}
	return nil
}

// directOpener is openDirect, or what a test puts in its place.
var directOpener = openDirect

const (
	// writeChunk is the most written with one system call.
	writeChunk = 1 << 20
	// directChunk is the most written with one direct write.
	directChunk = 1 << 20
	// hashChunk is how much is hashed and copied at a time: it stays in the
	// CPU's cache in between.
	hashChunk = 256 << 10
	// directMin is the smallest part worth opening the file for direct I/O.
	directMin = 64 << 10
)

// pageAlign is what direct I/O aligns offsets, lengths and buffers to: the
// page size (at least 4 KiB), so that a page the page cache holds (an edge)
// is never also written directly.
var pageAlign = max(4096, os.Getpagesize())

// isAligned reports whether b starts at a multiple of pageAlign.
func isAligned(b []byte) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%uintptr(pageAlign) == 0
}

// alignedStart is where in buf, at most start, to put bytes of which the
// first is at offset first of a file, so that the one at the next
// page-aligned offset of the file is page-aligned in memory; start when no
// such place is before it.
func alignedStart(buf []byte, start int, first int64) int {
	a := int64(pageAlign)
	addr := int64(uintptr(unsafe.Pointer(unsafe.SliceData(buf))) % uintptr(a))
	back := int(((addr+int64(start)-first)%a + a) % a)
	if back > start {
		return start
	}
	return start - back
}

func alignUp(off int64) int64 {
	a := int64(pageAlign)
	return (off + a - 1) / a * a
}

type alignedBuffer struct{ b []byte }

// alignedBuffers keeps a few aligned buffers for good: unlike a sync.Pool's,
// a collection does not take them, so a part does not allocate one.
var alignedBuffers = make(chan *alignedBuffer, 4)

func getAligned() *alignedBuffer {
	select {
	case b := <-alignedBuffers:
		return b
	default:
	}
	raw := make([]byte, directChunk+pageAlign)
	skip := (pageAlign - int(uintptr(unsafe.Pointer(unsafe.SliceData(raw))))%pageAlign) % pageAlign
	return &alignedBuffer{b: raw[skip : skip+directChunk]}
}

func putAligned(b *alignedBuffer) {
	select {
	case alignedBuffers <- b:
	default:
	}
}
