// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build unix

package ecrpush

import "syscall"

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
