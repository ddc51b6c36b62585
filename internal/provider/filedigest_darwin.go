// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build darwin

package provider

import (
	"os"
	"syscall"
)

// statExtra returns the status-change time, inode and device of a file.
func statExtra(info os.FileInfo) (ctime int64, inode, device uint64) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0
	}
	return st.Ctimespec.Nano(), st.Ino, uint64(st.Dev) //nolint:gosec // a device number is never negative
}
