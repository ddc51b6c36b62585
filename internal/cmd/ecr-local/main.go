// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

// Command ecr-local serves the local ECR endpoint on loopback, for the demo
// and for trying the provider without AWS. Pushed layers are kept in a
// temporary directory (under -dir) that goes when the command stops.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrlocal"
)

type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	var (
		addr      = flag.String("addr", "127.0.0.1:0", "address to listen on (loopback; port 0 picks a free one)")
		accessKey = flag.String("access-key", envOr("AWS_ACCESS_KEY_ID", "AKIAECRLOCALDEMO0001"), "the only access key ID accepted")
		secretKey = flag.String("secret-key", envOr("AWS_SECRET_ACCESS_KEY", "ecrlocal-demo-secret-key"), "its secret access key")
		region    = flag.String("region", "eu-west-1", "region of the repositories created with -repository")
		partSize  = flag.Int64("part-size", ecrlocal.DefaultPartSize, "part size InitiateLayerUpload answers, in bytes")
		urlFile   = flag.String("url-file", "", "write the endpoint's URL to this file once it listens")
		dir       = flag.String("dir", "", "make the temporary directory for pushed layers here (default: the system's temporary directory)")
		repos     repeated
	)
	flag.Var(&repos, "repository", "create this repository at start (repeatable)")
	flag.Parse()

	srv, err := ecrlocal.Start(*addr, ecrlocal.Options{AccessKeyID: *accessKey, SecretAccessKey: *secretKey, PartSize: *partSize, Log: os.Stderr, Dir: *dir})
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range repos {
		srv.CreateRepository(*region, "", name)
	}
	if *urlFile != "" {
		if err := os.WriteFile(*urlFile, []byte(srv.URL()+"\n"), 0o600); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Fprintf(os.Stderr, "local ECR endpoint listening on %s (repositories: %v)\n", srv.URL(), repos)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	_ = srv.Close()
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
