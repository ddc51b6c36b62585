// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Credentials is a key pair the endpoint accepts: one configured in Options,
// or temporary credentials it issued through STS AssumeRole or
// AssumeRoleWithWebIdentity.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when set, must come with every request signed by the key
	// (X-Amz-Security-Token), as AWS requires of temporary credentials.
	SessionToken string
	// Expiration is when the key stops being accepted; zero never expires.
	Expiration time.Time
	// AccountID owns the principal: its registry is the default one for its
	// ECR calls. Options.AccountID when empty.
	AccountID string
	// ARN is the principal, as GetCallerIdentity answers it:
	// arn:aws:iam::<account>:user/... for keys in Options,
	// arn:aws:sts::<account>:assumed-role/<role>/<session> for issued ones.
	ARN    string
	UserID string
	// SourceAccessKeyID is the key that called AssumeRole (empty for keys in
	// Options and for web identity sessions).
	SourceAccessKeyID string
}

// Role is a role the endpoint lets callers assume.
type Role struct {
	ARN string
	// ExternalID, when set, must be sent with AssumeRole.
	ExternalID string
	// MaxSessionDuration bounds DurationSeconds (one hour when zero, as in IAM).
	MaxSessionDuration time.Duration
}

// registerCredentials makes the keys in Options acceptable; called once, before
// the server answers anything.
func (s *Server) registerCredentials() {
	s.creds = map[string]*Credentials{}
	s.registryTokens = map[string]AuthorizationToken{}
	all := []Credentials{{AccessKeyID: s.opts.AccessKeyID, SecretAccessKey: s.opts.SecretAccessKey, SessionToken: s.opts.SessionToken}}
	all = append(all, s.opts.ExtraCredentials...)
	for i, c := range all {
		if c.AccessKeyID == "" {
			continue
		}
		if c.AccountID == "" {
			c.AccountID = s.opts.AccountID
		}
		if c.ARN == "" {
			c.ARN = fmt.Sprintf("arn:aws:iam::%s:user/ecrlocal", c.AccountID)
			if i > 0 {
				c.ARN = fmt.Sprintf("arn:aws:iam::%s:user/ecrlocal-%d", c.AccountID, i)
			}
		}
		if c.UserID == "" {
			c.UserID = fmt.Sprintf("AIDAECRLOCALUSER%04d", i+1)
		}
		s.creds[c.AccessKeyID] = &c
	}
}

// credentialsFor returns the credentials that own accessKeyID, if any.
func (s *Server) credentialsFor(accessKeyID string) (Credentials, bool) {
	s.credMu.RLock()
	defer s.credMu.RUnlock()
	c, ok := s.creds[accessKeyID]
	if !ok {
		return Credentials{}, false
	}
	return *c, true
}

// issue mints temporary credentials for a role session and starts accepting
// them.
func (s *Server) issue(c Credentials) Credentials {
	c.AccessKeyID = "ASIA" + randomBase32(16)
	c.SecretAccessKey = randomBase64(30)
	// Real session tokens are several hundred characters of base64 with '+',
	// '/' and '=': a log masker must cope with all three.
	c.SessionToken = "IQoJb3JpZ2luX2VjE" + randomBase64(240) + "=="
	s.credMu.Lock()
	defer s.credMu.Unlock()
	stored := c
	s.creds[c.AccessKeyID] = &stored
	s.issued = append(s.issued, c)
	return c
}

// IssuedCredentials returns every credential the endpoint has issued through
// STS, expired or not, so a test can look for each of them in logs.
func (s *Server) IssuedCredentials() []Credentials {
	s.credMu.RLock()
	defer s.credMu.RUnlock()
	return append([]Credentials(nil), s.issued...)
}

// ExpireCredentials makes an issued key expired from now on, so a test can
// watch a client refresh its credentials. It reports whether the key exists.
func (s *Server) ExpireCredentials(accessKeyID string) bool {
	s.credMu.Lock()
	defer s.credMu.Unlock()
	c, ok := s.creds[accessKeyID]
	if ok {
		c.Expiration = s.now().Add(-time.Second)
	}
	return ok
}

func randomBase32(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return strings.ToUpper(base32.StdEncoding.EncodeToString(b))[:n]
}

func randomBase64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// roleID is a role's stable unique ID (AROA...), as IAM gives each role one.
func roleID(roleARN string) string {
	sum := sha256.Sum256([]byte(roleARN))
	return "AROA" + base32.StdEncoding.EncodeToString(sum[:])[:17]
}
