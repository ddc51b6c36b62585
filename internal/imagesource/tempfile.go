// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ecrlabs/terraform-provider-ecr/internal/liveness"
)

// The decompressed copy of a .tar.gz source lives as long as its Source,
// and a process killed mid-push (Ctrl-C twice, a CI job canceled) leaves
// it behind: hundreds of megabytes each time. Each copy is named after the
// process that made it, ecr-imagesource-<pid>-<random>.tar, and the next
// Open of a .tar.gz removes those in its directory whose process is gone.

const (
	tempPrefix = "ecr-imagesource-"
	// maxTempAge is when a copy is removed even though a process has its
	// PID: PIDs are reused. Removing the copy of a live push is harmless on
	// Unix (the push reads its open file) and fails on Windows (it is open).
	maxTempAge = 24 * time.Hour
)

// createTemp removes the leftovers in dir (os.TempDir() when "") and
// creates a copy there for this process.
func createTemp(dir string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	removeLeftovers(dir)
	return os.CreateTemp(dir, fmt.Sprintf("%s%d-*.tar", tempPrefix, os.Getpid()))
}

// removeLeftovers removes the copies in dir whose process is gone or that
// are older than maxTempAge. It fails silently: a leftover it cannot remove
// (another user's) is no reason to fail a push.
func removeLeftovers(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, ok := tempPID(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil || (time.Since(info.ModTime()) < maxTempAge && liveness.ProcessAlive(pid)) {
			continue
		}
		_ = os.Remove(filepath.Join(dir, e.Name()))
	}
}

// tempPID returns the PID in the name of a copy, or false when name is not
// one.
func tempPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, tempPrefix)
	if !ok || !strings.HasSuffix(rest, ".tar") {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(digits)
	return pid, ok && err == nil && pid > 0
}
