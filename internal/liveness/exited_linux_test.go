// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package liveness

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestAZombieIsNotAlive: a killed process nobody has reaped yet (what a
// provider killed with its CLI becomes under a PID 1 that does not reap)
// holds nothing.
func TestAZombieIsNotAlive(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if !ProcessAlive(pid) {
		t.Fatal("a sleeping process is not alive")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Not reaped: the process stays a zombie until Wait.
	deadline := time.Now().Add(5 * time.Second)
	for ProcessAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if ProcessAlive(pid) {
		t.Fatalf("process %d was killed and is a zombie, but is alive", pid)
	}
	_ = cmd.Wait()
}
