// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build race

package ecrpush

// raceEnabled is true under the race detector, where every byte through the
// local endpoint costs some ten times more: tests that push tens of MiB to
// it push less, with the same parts and steps.
const raceEnabled = true
