// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

// Package liveness tells whether a process that left a file behind (a lock,
// a temporary copy) still runs, so that what a killed process left can be
// cleaned up and what a live one holds is left alone.
package liveness

import (
	"errors"
	"os"
	"syscall"
)

// ProcessAlive reports whether a process has the PID. Signal 0 checks
// without signaling; a process of another user answers EPERM, and is
// alive. On Windows FindProcess fails when there is no such process.
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	defer func() { _ = p.Release() }()
	if errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone) {
		return false
	}
	return !exited(pid)
}
