// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/ecrlabs/terraform-provider-ecr/internal/provider"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	// Ctrl-C at a terminal reaches the provider too; it cancels in-flight
	// requests even where Terraform does not ask the provider to stop.
	interrupted, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	err := providerserver.Serve(context.Background(), provider.NewWithInterrupt(version, interrupted), providerserver.ServeOpts{
		Address: "registry.terraform.io/ecrlabs/ecr",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}
