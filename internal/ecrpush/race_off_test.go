// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build !race

package ecrpush

// raceEnabled: see race_on_test.go.
const raceEnabled = false
