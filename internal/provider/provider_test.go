// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// TestEveryProviderArgumentCanBeFoundUnknown makes each argument and block of
// the provider schema unknown in turn, the rest null, and expects
// firstUnknownArgument to name it: an argument added later cannot be missed.
func TestEveryProviderArgumentCanBeFoundUnknown(t *testing.T) {
	s := providerSchema()
	objType, ok := s.Type().TerraformType(context.Background()).(tftypes.Object)
	if !ok {
		t.Fatalf("the provider schema is not an object type")
	}
	if len(objType.AttributeTypes) != len(s.Attributes)+len(s.Blocks) {
		t.Fatalf("%d attribute types for %d attributes and %d blocks", len(objType.AttributeTypes), len(s.Attributes), len(s.Blocks))
	}
	for name := range objType.AttributeTypes {
		values := map[string]tftypes.Value{}
		for other, typ := range objType.AttributeTypes {
			values[other] = tftypes.NewValue(typ, nil)
		}
		values[name] = tftypes.NewValue(objType.AttributeTypes[name], tftypes.UnknownValue)
		if got := firstUnknownArgument(tftypes.NewValue(objType, values)); got != name {
			t.Errorf("%s unknown: got %q", name, got)
		}
	}
	known := map[string]tftypes.Value{}
	for name, typ := range objType.AttributeTypes {
		known[name] = tftypes.NewValue(typ, nil)
	}
	if got := firstUnknownArgument(tftypes.NewValue(objType, known)); got != "" {
		t.Errorf("all null: got %q", got)
	}
}
