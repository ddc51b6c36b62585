// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"testing"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

// The validators are fuzzed against the model-driven validation of the local
// endpoint: whatever one accepts, the other must accept too, so the provider
// refuses exactly what ECR would refuse.

func FuzzValidateRepositoryName(f *testing.F) {
	for _, seed := range []string{"team/app", "a", "ab", "Team/App", "team//app", "a-b__c.d/e", "a--b", "a..b", "/a", "é/a", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		ours := ValidateRepositoryName(name) == nil
		model := ecrlocal.CheckInput("InitiateLayerUpload", map[string]any{"repositoryName": name}) == nil
		if ours != model {
			t.Fatalf("%q: this package accepts=%v, the model accepts=%v", name, ours, model)
		}
	})
}

func FuzzValidateRegistryID(f *testing.F) {
	for _, seed := range []string{"123456789012", "12345678901", "1234567890123", "12345678901a", "", "١٢٣٤٥٦٧٨٩٠١٢"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		ours := ValidateRegistryID(id) == nil
		model := ecrlocal.CheckInput("InitiateLayerUpload", map[string]any{"repositoryName": "ok", "registryId": id}) == nil
		if ours != model {
			t.Fatalf("%q: this package accepts=%v, the model accepts=%v", id, ours, model)
		}
	})
}

func FuzzValidateRegion(f *testing.F) {
	for _, seed := range []string{"eu-west-1", "us-gov-west-1", "cn-north-1", "eu-west", "EU-WEST-1", "", "eu_west_1", "a-b-1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, region string) {
		if ValidateRegion(region) != nil {
			return
		}
		// An accepted region is lowercase letters, digits and dashes, starts
		// with two letters and ends with a number.
		for i, r := range region {
			letter := r >= 'a' && r <= 'z'
			allowed := letter || r >= '0' && r <= '9' || r == '-'
			if !allowed || (i < 2 && !letter) {
				t.Fatalf("accepted %q", region)
			}
		}
		if last := region[len(region)-1]; last < '0' || last > '9' {
			t.Fatalf("accepted %q", region)
		}
	})
}

func FuzzTargetValidate(f *testing.F) {
	f.Add("team/app", "123456789012", "eu-west-1")
	f.Add("Team", "1", "x")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, repo, registry, region string) {
		err := Target{Repository: repo, RegistryID: registry, Region: region}.Validate()
		each := ValidateRepositoryName(repo) == nil &&
			(registry == "" || ValidateRegistryID(registry) == nil) &&
			(region == "" || ValidateRegion(region) == nil)
		if (err == nil) != each {
			t.Fatalf("Validate()=%v disagrees with the field checks (%v)", err, each)
		}
	})
}
