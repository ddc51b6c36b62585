// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"testing"
)

// BenchmarkInitiateLayerUpload is one signed InitiateLayerUpload round trip
// through the SDK client to the local endpoint.
func BenchmarkInitiateLayerUpload(b *testing.B) {
	srv, err := startBenchEndpoint()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	srv.CreateRepository(region, "", "bench/app")
	api := client(srv, 1)
	target := Target{Repository: "bench/app", Region: region}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := InitiateLayerUpload(ctx, api, target); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTargetValidate(b *testing.B) {
	target := Target{Repository: "team/app/base-image_v2", RegistryID: "123456789012", Region: "eu-west-1"}
	b.ReportAllocs()
	for b.Loop() {
		if err := target.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
