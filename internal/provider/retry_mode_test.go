// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// TestRetryModeReachesTheRetryer configures the provider as Terraform does
// (the schema's object, decoded into the model, then baseConfig and
// newClient) with each retry_mode, and looks inside the ECR client's retryer
// for the SDK's adaptive retryer: it must be there for "adaptive" and only
// then. Throttling alone cannot tell the modes apart (both retry it), so the
// acceptance test of adaptive mode could not fail if the setting were lost.
func TestRetryModeReachesTheRetryer(t *testing.T) {
	for _, mode := range []string{"standard", "adaptive"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			m := testProviderModel(t, map[string]tftypes.Value{
				"region":                      tftypes.NewValue(tftypes.String, testAccRegion),
				"access_key":                  tftypes.NewValue(tftypes.String, testAccAccessKey),
				"secret_key":                  tftypes.NewValue(tftypes.String, testAccSecretKey),
				"retry_mode":                  tftypes.NewValue(tftypes.String, mode),
				"skip_credentials_validation": tftypes.NewValue(tftypes.Bool, true),
			})
			cfg, diags := m.baseConfig(ctx, "test", "1.11.4")
			if diags.HasError() {
				t.Fatal(diags)
			}
			c, diags := newClient(ctx, m, cfg, ctx)
			if diags.HasError() {
				t.Fatal(diags)
			}
			chain := typesInside(c.ecr.Options().Retryer)
			hasAdaptive := slices.Contains(chain, "*retry.AdaptiveMode")
			if hasAdaptive != (mode == "adaptive") {
				t.Fatalf("retry_mode %q: the retryer is %v", mode, chain)
			}
		})
	}
}

// testProviderModel decodes a provider block with the given arguments set
// (the rest null) the way the framework does for Configure.
func testProviderModel(t *testing.T, set map[string]tftypes.Value) providerModel {
	t.Helper()
	s := providerSchema()
	objType, ok := s.Type().TerraformType(context.Background()).(tftypes.Object)
	if !ok {
		t.Fatal("the provider schema is not an object")
	}
	values := map[string]tftypes.Value{}
	for name, typ := range objType.AttributeTypes {
		values[name] = tftypes.NewValue(typ, nil)
	}
	for name, v := range set {
		values[name] = v
	}
	var m providerModel
	if diags := (tfsdk.Config{Schema: s, Raw: tftypes.NewValue(objType, values)}).Get(context.Background(), &m); diags.HasError() {
		t.Fatal(diags)
	}
	return m
}

// typesInside lists the dynamic types of v and of every interface or
// pointer value it wraps, depth first: retryers wrap one another.
func typesInside(v any) []string {
	var out []string
	var walk func(reflect.Value, int)
	walk = func(rv reflect.Value, depth int) {
		if depth > 8 || !rv.IsValid() {
			return
		}
		switch rv.Kind() {
		case reflect.Interface:
			if !rv.IsNil() {
				walk(rv.Elem(), depth+1)
			}
		case reflect.Pointer:
			if rv.IsNil() {
				return
			}
			out = append(out, rv.Type().String())
			if rv.Elem().Kind() == reflect.Struct {
				walk(rv.Elem(), depth+1)
			}
		case reflect.Struct:
			out = append(out, rv.Type().String())
			for i := range rv.NumField() {
				if k := rv.Field(i).Kind(); k == reflect.Interface || k == reflect.Pointer {
					walk(rv.Field(i), depth+1)
				}
			}
		}
	}
	walk(reflect.ValueOf(v), 0)
	return out
}
