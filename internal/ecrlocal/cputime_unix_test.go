// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build unix

package ecrlocal

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used, user and system apart
// (all threads): on a machine shared with other work it measures the work
// done, where wall time measures the machine's load.
func cpuTime() (user, system time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}
