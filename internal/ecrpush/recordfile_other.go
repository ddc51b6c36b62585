// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

//go:build !unix

package ecrpush

import (
	"fmt"
	"os"
)

// openRecordFile opens a record only when the entry at path is a regular
// file, not a symlink, and is the file opened. There is no O_NOFOLLOW here;
// the second check catches an entry swapped between the two.
func openRecordFile(path string) (*os.File, error) {
	before, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a record: %s", path, before.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if opened, err := f.Stat(); err != nil || !os.SameFile(before, opened) {
		_ = f.Close()
		return nil, fmt.Errorf("%s changed while it was opened", path)
	}
	return f, nil
}
