// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build race

package provider

// raceBuildFlags builds the provider binary the CLI tests run with the race
// detector too, when the tests themselves run under it: `TF_ACC=1 go test
// -race -run TestAccCLI_forEach ./internal/provider/` races the provider
// process that Terraform starts, not only the test process.
var raceBuildFlags = []string{"-race"}
