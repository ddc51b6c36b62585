// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build !race

package provider

// raceBuildFlags: see race_on_test.go.
var raceBuildFlags []string
