// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

// Package tools pins the development tools (tfplugindocs, golangci-lint) in
// a module of their own, so they do not enter the provider's dependencies.
// Run them with `go tool -modfile=tools/go.mod NAME`.
package tools

//go:generate go tool tfplugindocs generate --provider-dir .. --provider-name ecr --rendered-website-dir docs
