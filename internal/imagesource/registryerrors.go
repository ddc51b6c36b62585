// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package imagesource

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Errors of reading a registry. Each names the registry and what was asked
// of it, and never holds a password or token: they reach Terraform's output.

// ReferenceError is a source_image that is not an image reference.
type ReferenceError struct {
	Ref string
	Why string
}

func (e *ReferenceError) Error() string {
	return fmt.Sprintf("%q is not an image reference (such as alpine:3.20, ghcr.io/org/app:1.2 or "+
		"registry.example.com/team/app@sha256:<digest>): %s", e.Ref, e.Why)
}

// RegistryAuthError is a registry that refused the credentials tried (401),
// or refused them access to the repository (403).
type RegistryAuthError struct {
	Registry  string
	Reference string
	Status    int
	// Credential says which credential was tried: a Login's Source, the
	// Docker config, or "anonymous access".
	Credential string
}

func (e *RegistryAuthError) Error() string {
	what := "refused the credentials"
	hint := "check them, or give source_username and source_password_wo"
	if e.Status == http.StatusForbidden {
		what = "denied access to the image with the credentials"
		hint = "check that they may pull this repository"
	}
	if e.Credential == credAnonymous {
		what, hint = "requires credentials to read", "give source_username and source_password_wo, or log in with docker login"
	}
	return fmt.Sprintf("registry %s %s %s (%d %s) tried for %s; %s",
		e.Registry, what, e.Credential, e.Status, http.StatusText(e.Status), e.Reference, hint)
}

// NotFoundError is a manifest, repository or blob the registry does not
// have.
type NotFoundError struct {
	Registry  string
	Reference string
	// What is "manifest", "repository" or "blob <digest>".
	What string
}

func (e *NotFoundError) Error() string {
	switch {
	case e.What == "repository":
		return fmt.Sprintf("registry %s has no repository for %s (or hides it from the credentials used)", e.Registry, e.Reference)
	case strings.HasPrefix(e.What, "blob"):
		return fmt.Sprintf("registry %s does not have the %s that %s references", e.Registry, e.What, e.Reference)
	}
	return fmt.Sprintf("registry %s has no image %s (no such tag or digest)", e.Registry, e.Reference)
}

// RateLimitError is a registry that answered 429 Too Many Requests for
// longer than RemoteOptions.RetryBudget.
type RateLimitError struct {
	Registry string
	// Limit and Remaining are Docker Hub's ratelimit-limit and
	// ratelimit-remaining headers ("100;w=21600"), when given.
	Limit, Remaining string
	// Reset is when the registry said to retry (Retry-After); zero when it
	// did not say.
	Reset time.Time
	// Waited is how long this waited for it before giving up.
	Waited time.Duration
}

func (e *RateLimitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "registry %s refused more requests (429 Too Many Requests)", e.Registry)
	if e.Limit != "" {
		fmt.Fprintf(&b, "; its limit is %s", describeLimit(e.Limit))
		if e.Remaining != "" {
			fmt.Fprintf(&b, ", %s remaining", describeLimit(e.Remaining))
		}
	}
	if !e.Reset.IsZero() {
		fmt.Fprintf(&b, "; it accepts requests again at %s", e.Reset.UTC().Format(time.RFC3339))
	}
	if e.Waited > 0 {
		fmt.Fprintf(&b, " (waited %s already)", e.Waited.Round(time.Second))
	}
	b.WriteString("; retry later, or read the image with credentials, which usually have a higher limit")
	return b.String()
}

// describeLimit spells Docker Hub's "100;w=21600" as "100 pulls per 6h0m0s".
func describeLimit(h string) string {
	n, w, ok := strings.Cut(h, ";w=")
	if !ok {
		return h
	}
	var secs int
	if _, err := fmt.Sscanf(w, "%d", &secs); err != nil {
		return h
	}
	return fmt.Sprintf("%s pulls per %s", n, time.Duration(secs)*time.Second)
}

// TLSError is a registry whose certificate this does not trust.
type TLSError struct {
	Host string
	Err  error
}

func (e *TLSError) Error() string {
	return fmt.Sprintf("the TLS certificate of %s is not trusted (%v); a registry must have a certificate the "+
		"system's roots verify", e.Host, e.Err)
}

func (e *TLSError) Unwrap() error { return e.Err }

// UnknownHostError is a registry host that DNS does not know.
type UnknownHostError struct {
	Host string
	Err  error
}

func (e *UnknownHostError) Error() string {
	return fmt.Sprintf("registry host %s is not known to DNS; check the image reference's registry", e.Host)
}

func (e *UnknownHostError) Unwrap() error { return e.Err }

// PlainHTTPError is a request in plain HTTP to a host that is not this
// machine: credentials and images would cross the network unprotected.
type PlainHTTPError struct {
	Host string
}

func (e *PlainHTTPError) Error() string {
	return fmt.Sprintf("refusing to read http://%s: plain HTTP is used only for registries on this machine "+
		"(localhost, 127.0.0.0/8, ::1); serve the registry over HTTPS", e.Host)
}

// remoteError maps what a registry request failed with onto this package's
// errors. what is "manifest" or "blob <digest>": what a 404 lacks.
func (s *remoteSession) remoteError(err error, what string) error {
	if err == nil {
		return nil
	}
	var (
		rl   *RateLimitError
		ph   *PlainHTTPError
		ours *RegistryAuthError
		nf   *NotFoundError
		te   *transport.Error
		dns  *net.DNSError
		cert *tls.CertificateVerificationError
		ua   x509.UnknownAuthorityError
		he   x509.HostnameError
		ci   x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &rl):
		return rl // not wrapped in the URL: the registry is named in it
	case errors.As(err, &ph), errors.As(err, &ours), errors.As(err, &nf):
		return err
	case errors.As(err, &te):
		return s.statusError(te, what, err)
	case errors.As(err, &cert), errors.As(err, &ua), errors.As(err, &he), errors.As(err, &ci):
		return &TLSError{Host: s.host, Err: err}
	case errors.As(err, &dns) && dns.IsNotFound:
		return &UnknownHostError{Host: dns.Name, Err: err}
	}
	return fmt.Errorf("reading %s from registry %s: %w", s.ref, s.registry, err)
}

// statusError maps an error answer of the registry.
func (s *remoteSession) statusError(te *transport.Error, what string, err error) error {
	code := func(c transport.ErrorCode) bool {
		for _, d := range te.Errors {
			if d.Code == c {
				return true
			}
		}
		return false
	}
	switch {
	case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
		return &RegistryAuthError{Registry: s.registry, Reference: s.ref, Status: te.StatusCode, Credential: s.credential}
	case te.StatusCode == http.StatusNotFound && code(transport.NameUnknownErrorCode):
		return &NotFoundError{Registry: s.registry, Reference: s.ref, What: "repository"}
	case te.StatusCode == http.StatusNotFound:
		return &NotFoundError{Registry: s.registry, Reference: s.ref, What: what}
	case te.StatusCode == http.StatusTooManyRequests:
		return &RateLimitError{Registry: s.registry}
	}
	return fmt.Errorf("reading %s from registry %s: %w", s.ref, s.registry, err)
}
