// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build linux

package ecrlocal

import (
	"os"
	"syscall"
)

// openDirect opens an existing file for writing with direct I/O, or reports
// why it cannot (a file system without it, tmpfs before Linux 6.6).
func openDirect(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|syscall.O_DIRECT, 0)
}
