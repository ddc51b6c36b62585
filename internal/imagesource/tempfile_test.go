// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gzipSource writes a .tar.gz of an OCI layout.
func gzipSource(t *testing.T) string {
	t.Helper()
	idx, _, _, _ := multiPlatform(t)
	lp := newLayout(t)
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	source := filepath.Join(t.TempDir(), "image.tar.gz")
	tarDir(t, string(lp), source, "", nil, true)
	return source
}

// A process killed while it holds a .tar.gz open leaves its decompressed
// copy; the next Open removes it.
func TestGunzipCopyOfKilledProcessRemoved(t *testing.T) {
	source, tmp := gzipSource(t), t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldOpen$")
	cmd.Env = append(os.Environ(), "IMAGESOURCE_HOLD="+source, "IMAGESOURCE_TEMP="+tmp)
	out := must(cmd.StdoutPipe())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "open\n" {
		_ = cmd.Process.Kill()
		t.Fatalf("the child said %q (%v)", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	left := must(filepath.Glob(filepath.Join(tmp, "*")))
	if len(left) != 1 || !strings.Contains(left[0], fmt.Sprint(cmd.Process.Pid)) {
		t.Fatalf("the killed child left %v, not one copy named after it", left)
	}
	open(t, source, Options{TempDir: tmp})
	if _, err := os.Stat(left[0]); err == nil {
		t.Errorf("%s is still there", left[0])
	}
}

// TestHoldOpen is the child of TestGunzipCopyOfKilledProcessRemoved: it
// opens a .tar.gz and waits to be killed.
func TestHoldOpen(t *testing.T) {
	source := os.Getenv("IMAGESOURCE_HOLD")
	if source == "" {
		t.Skip("run by TestGunzipCopyOfKilledProcessRemoved")
	}
	open(t, source, Options{TempDir: os.Getenv("IMAGESOURCE_TEMP")})
	fmt.Println("open")
	time.Sleep(time.Minute)
}

// A .tar.gz's decompressed copy is named after the process; Open removes
// the copies left by processes that are gone (killed mid-push) or that are
// older than a day, and no other file.
func TestGunzipLeftoversRemoved(t *testing.T) {
	source, tmp := gzipSource(t), t.TempDir()
	leftover := func(pid int) string { return fmt.Sprintf("ecr-imagesource-%d-123456.tar", pid) }
	const gonePID = 1<<30 + 1 // above any pid_max, odd (Windows' are multiples of 4)
	files := map[string]bool{ // name: kept
		leftover(gonePID):       false,
		leftover(os.Getpid()):   true,
		leftover(os.Getppid()):  true,
		"ecr-imagesource-x.tar": true,
		"other-1.tar":           true,
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte("left"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := fmt.Sprintf("ecr-imagesource-%d-999.tar", os.Getppid()) // alive, but for too long
	files[old] = false
	if err := os.WriteFile(filepath.Join(tmp, old), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(tmp, old), time.Time{}, time.Now().Add(-25*time.Hour)); err != nil {
		t.Fatal(err)
	}

	s := open(t, source, Options{TempDir: tmp})
	for name, kept := range files {
		_, err := os.Stat(filepath.Join(tmp, name))
		if kept != (err == nil) {
			t.Errorf("%s: kept %v, want %v", name, err == nil, kept)
		}
	}
	var mine []string
	for _, e := range must(os.ReadDir(tmp)) {
		if !files[e.Name()] && strings.HasPrefix(e.Name(), fmt.Sprintf("ecr-imagesource-%d-", os.Getpid())) {
			mine = append(mine, e.Name())
		}
	}
	if len(mine) != 1 {
		t.Fatalf("the source's own copy: %v", mine)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tmp, mine[0])); err == nil {
		t.Error("Close left the copy")
	}
}
