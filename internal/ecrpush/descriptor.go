// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

// Descriptor names a manifest or blob as OCI manifests reference one: what
// a referrer's subject holds.
type Descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}
