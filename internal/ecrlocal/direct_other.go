// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build !linux

package ecrlocal

import (
	"errors"
	"os"
)

// openDirect: direct I/O is used on Linux only; elsewhere parts go through
// the page cache.
func openDirect(string) (*os.File, error) { return nil, errors.ErrUnsupported }
