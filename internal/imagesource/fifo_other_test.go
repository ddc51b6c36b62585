// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build !unix

package imagesource

import "errors"

func mkfifo(string) error { return errors.ErrUnsupported }
