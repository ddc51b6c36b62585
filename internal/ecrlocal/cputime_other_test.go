// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build !unix

package ecrlocal

import "time"

// cpuTime is not measured where getrusage does not exist; the benchmark
// then skips.
func cpuTime() (user, system time.Duration) { return 0, 0 }
