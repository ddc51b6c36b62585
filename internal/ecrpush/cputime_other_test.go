// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build !unix

package ecrpush

import "time"

// cpuTime is not measured where getrusage does not exist; the benchmarks
// then report wall time only.
func cpuTime() time.Duration { return 0 }
