// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package liveness

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

func TestProcessAlive(t *testing.T) {
	if !ProcessAlive(os.Getpid()) {
		t.Fatal("this process is not alive")
	}
	if runtime.GOOS == "windows" {
		t.Skip("no true(1)")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if ProcessAlive(cmd.Process.Pid) {
		t.Fatalf("process %d ended and was reaped, but is alive", cmd.Process.Pid)
	}
	if ProcessAlive(0) || ProcessAlive(-1) {
		t.Fatal("pid 0 or -1 alive")
	}
}
