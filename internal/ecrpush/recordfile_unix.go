// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build unix

package ecrpush

import (
	"os"
	"syscall"
)

// openRecordFile opens a record without following a symlink (the open
// fails) and without blocking on a FIFO with no writer (the open returns at
// once; the caller's fstat refuses it).
func openRecordFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
