// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package liveness

import (
	"bytes"
	"fmt"
	"os"
)

// exited reports whether the process has ended but is not yet reaped: a
// zombie still answers signal 0. A provider killed with its CLI (kill -9 of
// a CI job) is reparented to PID 1, and a container whose PID 1 does not
// reap children keeps it a zombie for good: without this, what it locked
// would stay locked.
func exited(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) state ...": comm may hold spaces and parentheses, so the
	// state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	state := stat[i+2]
	return state == 'Z' || state == 'X' || state == 'x'
}
