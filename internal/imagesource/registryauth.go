// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// credAnonymous is the credential source of anonymous access.
const credAnonymous = "anonymous access"

// remoteCreds is how a registry is read: with what, where, and what to call
// it in errors.
type remoteCreds struct {
	auth authn.Authenticator
	// source names the credential, never the secret.
	source string
	// target is the registry to talk to: the reference's, or a Login's
	// Endpoint.
	target name.Registry
}

// resolveCredentials asks opts.Login, then the Docker config, and falls back
// to anonymous access (go-containerregistry's transport still answers a
// bearer challenge with an anonymous token, as Docker Hub, GHCR and Quay
// need).
func resolveCredentials(ctx context.Context, reg name.Registry, opts RemoteOptions) (remoteCreds, error) {
	if opts.Login != nil {
		login, ok, err := opts.Login(ctx, reg.RegistryStr())
		if err != nil {
			return remoteCreds{}, fmt.Errorf("getting credentials for registry %s: %w", reg.RegistryStr(), err)
		}
		if ok {
			c := remoteCreds{auth: authn.FromConfig(authn.AuthConfig{Username: login.Username, Password: login.Password}),
				source: login.Source, target: reg}
			if c.source == "" {
				c.source = "the credentials given for " + reg.RegistryStr()
			}
			if login.Endpoint != "" {
				if c.target, err = endpointRegistry(login.Endpoint); err != nil {
					return remoteCreds{}, err
				}
			}
			return c, nil
		}
	}
	auth, err := authn.Resolve(ctx, authn.DefaultKeychain, reg)
	if err != nil {
		return remoteCreds{}, fmt.Errorf("reading the Docker config (%s) for registry %s: %w", dockerConfigPath(), reg.RegistryStr(), err)
	}
	if auth == authn.Anonymous {
		return remoteCreds{auth: auth, source: credAnonymous, target: reg}, nil
	}
	return remoteCreds{auth: auth, source: dockerConfigSource(reg.RegistryStr()), target: reg}, nil
}

// endpointRegistry reads a Login's Endpoint, "http://host:port" or
// "https://host[:port]".
func endpointRegistry(endpoint string) (name.Registry, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return name.Registry{}, fmt.Errorf("registry endpoint %q is not http://host:port or https://host[:port]", endpoint)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return name.Registry{}, &PlainHTTPError{Host: u.Host}
	}
	var opts []name.Option
	if u.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	return name.NewRegistry(u.Host, opts...)
}

// dockerConfigPath is the Docker config file authn.DefaultKeychain reads.
func dockerConfigPath() string {
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join("~", ".docker", "config.json")
	}
	return filepath.Join(home, ".docker", "config.json")
}

// dockerConfigSource names the Docker config entry a registry's credential
// comes from, and the helper that gives it, if any.
func dockerConfigSource(registry string) string {
	path := dockerConfigPath()
	src := "the Docker config at " + path
	raw, err := os.ReadFile(path)
	if err != nil {
		return src
	}
	var cfg struct {
		CredsStore  string            `json:"credsStore"`
		CredHelpers map[string]string `json:"credHelpers"`
	}
	if json.Unmarshal(raw, &cfg) != nil {
		return src
	}
	key := registry
	if registry == name.DefaultRegistry {
		key = authn.DefaultAuthKey
	}
	switch {
	case cfg.CredHelpers[key] != "":
		return fmt.Sprintf("%s (credHelpers %s)", src, cfg.CredHelpers[key])
	case cfg.CredHelpers[registry] != "":
		return fmt.Sprintf("%s (credHelpers %s)", src, cfg.CredHelpers[registry])
	case cfg.CredsStore != "":
		return fmt.Sprintf("%s (credsStore %s)", src, cfg.CredsStore)
	}
	return src + " (auths)"
}
