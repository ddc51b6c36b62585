// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"encoding/base64"
	"fmt"
	"time"
)

// authorizationTTL is how long ECR's registry tokens last.
const authorizationTTL = 12 * time.Hour

// AuthorizationToken is a registry credential GetAuthorizationToken issued:
// the registry API (/v2/...) takes it as HTTP Basic auth, user "AWS". ECR
// tells registries apart by host name (<account>.dkr.ecr.<region>...); this
// endpoint has one host, so a token addresses the registry and region it was
// asked for: the caller's account (or the deprecated registryIds) in the
// region the request was signed for.
type AuthorizationToken struct {
	// Token is what GetAuthorizationToken answers: base64 of "AWS:<Password>".
	Token      string
	Password   string
	Region     string
	RegistryID string
	ExpiresAt  time.Time
}

func (s *Server) getAuthorizationToken(c *call) (any, *apiError) {
	ids := c.strings("registryIds")
	if len(ids) == 0 {
		ids = []string{s.registry(c)}
	}
	data := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		password := "eyJwYXlsb2FkIjoi" + randomBase64(600)
		t := AuthorizationToken{
			Token:    base64.StdEncoding.EncodeToString([]byte("AWS:" + password)),
			Password: password, Region: c.region, RegistryID: id,
			ExpiresAt: s.now().Add(authorizationTTL).Truncate(time.Millisecond),
		}
		s.credMu.Lock()
		s.registryTokens[password] = t
		s.credMu.Unlock()
		endpoint := s.url
		if endpoint == "" {
			endpoint = fmt.Sprintf("https://%s.dkr.ecr.%s.amazonaws.com", id, c.region)
		}
		data = append(data, map[string]any{"authorizationToken": t.Token, "proxyEndpoint": endpoint,
			"expiresAt": float64(t.ExpiresAt.UnixMilli()) / 1000})
	}
	return map[string]any{"authorizationData": data}, nil
}

// registryToken returns the token a registry request's password belongs to.
func (s *Server) registryToken(password string) (AuthorizationToken, bool) {
	s.credMu.RLock()
	defer s.credMu.RUnlock()
	t, ok := s.registryTokens[password]
	return t, ok
}

// IssuedAuthorizationTokens returns every registry token issued so far, so a
// test can look for them in logs.
func (s *Server) IssuedAuthorizationTokens() []AuthorizationToken {
	s.credMu.RLock()
	defer s.credMu.RUnlock()
	out := make([]AuthorizationToken, 0, len(s.registryTokens))
	for _, t := range s.registryTokens {
		out = append(out, t)
	}
	return out
}
