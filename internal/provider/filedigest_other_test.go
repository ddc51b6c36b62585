// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build !unix

package provider

import "errors"

// mkfifo: there are no FIFOs in a Windows directory.
func mkfifo(string) error { return errors.ErrUnsupported }
