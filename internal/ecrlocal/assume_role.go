// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	defaultSessionDuration = time.Hour
	// roleChainingLimit caps sessions whose caller is itself an assumed role.
	roleChainingLimit = time.Hour
)

// roleARNPattern is an IAM role ARN: partition, account, optional path, name.
var roleARNPattern = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):iam::([0-9]{12}):role/(?:[\x21-\x7e]+/)?([\w+=,.@-]{1,64})$`)

// stsParam is one request parameter and STS's documented constraints on it
// (the STS API reference; the endpoint ships no STS model).
type stsParam struct {
	name     string
	required bool
	min, max int
	pattern  *regexp.Regexp
	number   bool // DurationSeconds: min and max bound the value
}

var (
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]*$`)
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]*$`)

	assumeRoleParams = []stsParam{
		{name: "RoleArn", required: true, min: 20, max: 2048},
		{name: "RoleSessionName", required: true, min: 2, max: 64, pattern: sessionNamePattern},
		{name: "DurationSeconds", min: 900, max: 43200, number: true},
		{name: "ExternalId", min: 2, max: 1224, pattern: externalIDPattern},
		{name: "Policy", min: 1, max: 2048},
	}
	webIdentityParams = []stsParam{
		{name: "RoleArn", required: true, min: 20, max: 2048},
		{name: "RoleSessionName", required: true, min: 2, max: 64, pattern: sessionNamePattern},
		{name: "WebIdentityToken", required: true, min: 4, max: 20000},
		{name: "DurationSeconds", min: 900, max: 43200, number: true},
		{name: "Policy", min: 1, max: 2048},
	}
)

// validateSTS checks a form against the parameters' constraints and answers
// ValidationError worded as STS words it.
func validateSTS(form url.Values, params []stsParam) *apiError {
	var problems []string
	for _, p := range params {
		member := strings.ToLower(p.name[:1]) + p.name[1:]
		v, present := form.Get(p.name), form.Has(p.name)
		fail := func(constraint string, value string) {
			problems = append(problems, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: Member must %s", value, member, constraint))
		}
		switch {
		case !present:
			if p.required {
				fail("not be null", "null")
			}
		case p.number:
			n, err := strconv.Atoi(v)
			switch {
			case err != nil:
				fail("be a number", "'"+v+"'")
			case n < p.min:
				fail(fmt.Sprintf("have value greater than or equal to %d", p.min), "'"+v+"'")
			case n > p.max:
				fail(fmt.Sprintf("have value less than or equal to %d", p.max), "'"+v+"'")
			}
		default:
			switch n := len([]rune(v)); {
			case n < p.min:
				fail(fmt.Sprintf("have length greater than or equal to %d", p.min), "'"+v+"'")
			case n > p.max:
				fail(fmt.Sprintf("have length less than or equal to %d", p.max), "'"+v+"'")
			}
			if p.pattern != nil && !p.pattern.MatchString(v) {
				fail("satisfy regular expression pattern: "+strings.Trim(p.pattern.String(), "^$"), "'"+v+"'")
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	noun := "error"
	if len(problems) > 1 {
		noun = "errors"
	}
	return newError("ValidationError", fmt.Sprintf("%d validation %s detected: %s", len(problems), noun, strings.Join(problems, "; ")))
}

type assumedRoleUser struct {
	Arn           string `xml:"Arn"`
	AssumedRoleID string `xml:"AssumedRoleId"`
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumeRoleResponse struct {
	XMLName          xml.Name        `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	AssumedRoleUser  assumedRoleUser `xml:"AssumeRoleResult>AssumedRoleUser"`
	Credentials      stsCredentials  `xml:"AssumeRoleResult>Credentials"`
	PackedPolicySize *int            `xml:"AssumeRoleResult>PackedPolicySize,omitempty"`
	Request          string          `xml:"ResponseMetadata>RequestId"`
}

type webIdentityResponse struct {
	XMLName         xml.Name        `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithWebIdentityResponse"`
	Subject         string          `xml:"AssumeRoleWithWebIdentityResult>SubjectFromWebIdentityToken"`
	Audience        string          `xml:"AssumeRoleWithWebIdentityResult>Audience"`
	Provider        string          `xml:"AssumeRoleWithWebIdentityResult>Provider"`
	AssumedRoleUser assumedRoleUser `xml:"AssumeRoleWithWebIdentityResult>AssumedRoleUser"`
	Credentials     stsCredentials  `xml:"AssumeRoleWithWebIdentityResult>Credentials"`
	Request         string          `xml:"ResponseMetadata>RequestId"`
}

// roleSession is what AssumeRole and AssumeRoleWithWebIdentity share: which
// role, for how long, and the credentials issued for it.
func (s *Server) roleSession(caller Credentials, form url.Values, via string) (assumedRoleUser, stsCredentials, *apiError) {
	roleARN, session := form.Get("RoleArn"), form.Get("RoleSessionName")
	parts := roleARNPattern.FindStringSubmatch(roleARN)
	if parts == nil {
		return assumedRoleUser{}, stsCredentials{}, newError("ValidationError", fmt.Sprintf("%s is invalid", roleARN))
	}
	partition, account, name := parts[1], parts[2], parts[3]
	role, apiErr := s.roleFor(caller, roleARN, form, via)
	if apiErr != nil {
		return assumedRoleUser{}, stsCredentials{}, apiErr
	}
	duration := defaultSessionDuration
	if form.Has("DurationSeconds") {
		n, _ := strconv.Atoi(form.Get("DurationSeconds")) // validated already
		duration = time.Duration(n) * time.Second
	}
	limit, why := role.MaxSessionDuration, "the MaxSessionDuration set for this role"
	if limit == 0 {
		limit = defaultSessionDuration
	}
	if strings.Contains(caller.ARN, ":assumed-role/") {
		limit, why = roleChainingLimit, "the 1 hour session limit for roles assumed by role chaining"
	}
	if duration > limit {
		return assumedRoleUser{}, stsCredentials{}, newError("ValidationError",
			"The requested DurationSeconds exceeds "+why+".")
	}
	if policy := form.Get("Policy"); form.Has("Policy") && !json.Valid([]byte(policy)) {
		return assumedRoleUser{}, stsCredentials{}, newError("MalformedPolicyDocument", "The policy is not in the valid JSON format.")
	}
	user := assumedRoleUser{
		Arn:           fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", partition, account, name, session),
		AssumedRoleID: roleID(roleARN) + ":" + session,
	}
	issued := s.issue(Credentials{
		Expiration: s.now().Add(duration).UTC().Truncate(time.Second),
		AccountID:  account, ARN: user.Arn, UserID: user.AssumedRoleID,
		SourceAccessKeyID: caller.AccessKeyID,
	})
	return user, stsCredentials{
		AccessKeyID: issued.AccessKeyID, SecretAccessKey: issued.SecretAccessKey, SessionToken: issued.SessionToken,
		Expiration: issued.Expiration.Format("2006-01-02T15:04:05Z"),
	}, nil
}

// roleFor finds the role in Options.Roles (any role when none are listed)
// and checks the caller may assume it.
func (s *Server) roleFor(caller Credentials, roleARN string, form url.Values, via string) (Role, *apiError) {
	if len(s.opts.Roles) == 0 {
		return Role{ARN: roleARN}, nil
	}
	denied := &apiError{Code: "AccessDenied", Status: http.StatusForbidden, Message: fmt.Sprintf(
		"User: %s is not authorized to perform: sts:%s on resource: %s", caller.ARN, via, roleARN)}
	for _, role := range s.opts.Roles {
		if role.ARN != roleARN {
			continue
		}
		if role.ExternalID != "" && via == "AssumeRole" && form.Get("ExternalId") != role.ExternalID {
			return Role{}, denied
		}
		return role, nil
	}
	return Role{}, denied
}

func (s *Server) assumeRole(caller Credentials, form url.Values) (any, *apiError) {
	if apiErr := validateSTS(form, assumeRoleParams); apiErr != nil {
		return nil, apiErr
	}
	user, creds, apiErr := s.roleSession(caller, form, "AssumeRole")
	if apiErr != nil {
		return nil, apiErr
	}
	out := assumeRoleResponse{AssumedRoleUser: user, Credentials: creds}
	if form.Has("Policy") {
		// The share of the packed-policy quota used, as STS reports it.
		size := min(100, len(form.Get("Policy"))*100/2048+1)
		out.PackedPolicySize = &size
	}
	return out, nil
}

// assumeRoleWithWebIdentity accepts any token the caller chooses: the
// endpoint has no identity provider to check it against.
func (s *Server) assumeRoleWithWebIdentity(form url.Values) (any, *apiError) {
	if apiErr := validateSTS(form, webIdentityParams); apiErr != nil {
		return nil, apiErr
	}
	caller := Credentials{ARN: "web-identity"}
	user, creds, apiErr := s.roleSession(caller, form, "AssumeRoleWithWebIdentity")
	if apiErr != nil {
		return nil, apiErr
	}
	provider := form.Get("ProviderId")
	if provider == "" {
		provider = "ecrlocal"
	}
	return webIdentityResponse{Subject: "ecrlocal-subject", Audience: "sts.amazonaws.com", Provider: provider,
		AssumedRoleUser: user, Credentials: creds}, nil
}
