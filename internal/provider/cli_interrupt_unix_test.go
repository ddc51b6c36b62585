// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build unix

package provider

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// Signals and process groups are Unix's; Windows has neither, so this test
// is built only where they exist.

// TestAccCLI_interruptCancelsInFlightRequest interrupts the CLI while the
// provider waits on an endpoint that never answers: during plan, during the
// apply of a saved plan (SIGINT to the CLI alone, as a pipeline runner sends
// it), and during apply (Ctrl-C at a terminal, which signals the whole
// process group). The provider must cancel the request and the run end within
// seconds, not at the 10-minute read timeout.
func TestAccCLI_interruptCancelsInFlightRequest(t *testing.T) {
	for _, tc := range []struct {
		name         string
		args         []string
		savedPlan    bool
		processGroup bool
	}{
		{name: "plan", args: []string{"plan"}},
		{name: "apply of a saved plan", args: []string{"apply", "tfplan"}, savedPlan: true},
		{name: "apply with Ctrl-C at a terminal", args: []string{"apply", "-auto-approve"}, processGroup: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testAccEndpoint(t)
			srv.CreateRepository(testAccRegion, "", "team/app")
			dir := cliWorkdir(t, cliConfig(srv, `read_timeout = "10m"`))
			if tc.savedPlan {
				if out, err := cliCommandIn(t, dir, nil, "plan", "-out=tfplan", "-no-color").CombinedOutput(); err != nil {
					t.Fatalf("plan: %v\n%s", err, out)
				}
			}
			srv.InjectFault("InitiateLayerUpload", ecrlocal.Fault{Kind: ecrlocal.FaultHang, Times: 100})
			before := srv.ArrivalsFor("InitiateLayerUpload")

			var out bytes.Buffer
			cmd := cliCommandIn(t, dir, nil, append(tc.args, "-no-color")...)
			cmd.Stdout, cmd.Stderr = &out, &out
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: tc.processGroup}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()

			waitFor(t, func() bool { return srv.ArrivalsFor("InitiateLayerUpload") > before })
			interrupted := time.Now()
			target := cmd.Process.Pid
			if tc.processGroup {
				target = -target
			}
			if err := syscall.Kill(target, syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				t.Logf("%s: the CLI exited %s after SIGINT (%v)", tc.name, time.Since(interrupted).Round(time.Millisecond), err)
				if err == nil {
					t.Fatalf("the interrupted run succeeded:\n%s", out.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("the CLI was still running 30s after SIGINT:\n%s", out.String())
			}
			if !strings.Contains(out.String(), "ECR Request Canceled") {
				t.Errorf("the provider did not report the cancellation:\n%s", out.String())
			}
			// The hung request is recorded once the client has closed its connection.
			waitFor(t, func() bool {
				for _, r := range srv.RequestsFor("InitiateLayerUpload") {
					if r.ErrorCode == "fault:hang" {
						return true
					}
				}
				return false
			})
			if n := srv.ArrivalsFor("InitiateLayerUpload") - before; n != 1 {
				t.Errorf("a canceled request must not be retried: %d attempts", n)
			}
		})
	}
}
