// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build linux

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
	return st.Ctim.Nano(), st.Ino, st.Dev
}
