// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ClientOptions shape the ECR client every push goes through.
type ClientOptions struct {
	// Endpoint replaces ECR's endpoint when set (a local endpoint, a VPC
	// endpoint, a FIPS one).
	Endpoint string
	// Quotas paces requests per operation (ServiceQuotas; nil for none).
	Quotas map[string]float64
	// Log, when set, is told of every attempt of every call.
	Log CallLogger
}

// NewClient builds the ECR client from a resolved AWS configuration: the
// configuration's own retryer, which also retries answers cut short, quota
// pacing, and call logging. The client is safe for any number of concurrent
// calls: nothing here holds state per request outside the request's context.
func NewClient(cfg aws.Config, o ClientOptions) *ecr.Client {
	opts := []func(*ecr.Options){func(eo *ecr.Options) {
		if o.Endpoint != "" {
			eo.BaseEndpoint = aws.String(o.Endpoint)
		}
		if r, ok := eo.Retryer.(aws.RetryerV2); ok {
			eo.Retryer = RetryCutShortResponses(r)
		}
	}}
	if o.Quotas != nil {
		opts = append(opts, WithQuotas(o.Quotas))
	}
	if o.Log != nil {
		opts = append(opts, func(eo *ecr.Options) { eo.APIOptions = append(eo.APIOptions, WithCallLogging(o.Log)) })
	}
	return ecr.NewFromConfig(cfg, opts...)
}

// Call is one attempt of an AWS call, as it is logged: what was asked and
// how it ended, never a body or a header (they hold credentials and
// signatures, and a part's body is megabytes).
type Call struct {
	Service   string
	Operation string
	// Repository is the input's repositoryName, when it has one.
	Repository string
	// Attempt counts from 1; MaxAttempts is the retryer's budget (0 when
	// the SDK did not say).
	Attempt     int
	MaxAttempts int
	// Status is the HTTP status, 0 when no answer came.
	Status    int
	RequestID string
	Duration  time.Duration
	// Err is the transport's error, when there was no answer to read.
	Err error
}

// CallLogger receives each attempt after it ends, with the call's context.
type CallLogger func(ctx context.Context, c Call)

type repositoryKey struct{}

// WithCallLogging is an APIOptions entry that reports every attempt to log.
// It sits next to the transport, inside the retry loop, so each attempt is
// one report; it reads only the operation's name, the input's repositoryName,
// the status line and the request ID, so it copies no body.
func WithCallLogging(log CallLogger) func(*middleware.Stack) error {
	noteRepository := middleware.InitializeMiddlewareFunc("ECRNoteRepository", func(ctx context.Context,
		in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if repo := repositoryOf(in.Parameters); repo != "" {
			ctx = middleware.WithStackValue(ctx, repositoryKey{}, repo)
		}
		return next.HandleInitialize(ctx, in)
	})
	report := middleware.DeserializeMiddlewareFunc("ECRCallLog", func(ctx context.Context, in middleware.DeserializeInput,
		next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
		call := Call{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx)}
		call.Repository, _ = middleware.GetStackValue(ctx, repositoryKey{}).(string)
		if req, ok := in.Request.(*smithyhttp.Request); ok {
			call.Attempt, call.MaxAttempts = attemptOf(req.Header.Get("Amz-Sdk-Request"))
		}
		start := time.Now()
		out, md, err := next.HandleDeserialize(ctx, in)
		call.Duration = time.Since(start)
		if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp != nil {
			call.Status = resp.StatusCode
			call.RequestID = resp.Header.Get("X-Amzn-Requestid")
		}
		if err != nil && call.Status == 0 {
			call.Err = err
		}
		log(ctx, call)
		return out, md, err
	})
	return func(stack *middleware.Stack) error {
		if err := stack.Initialize.Add(noteRepository, middleware.After); err != nil {
			return err
		}
		// After: next to the transport, where the raw response is seen
		// before the operation's deserializer turns a status into an error.
		return stack.Deserialize.Add(report, middleware.After)
	}
}

// repositoryOf reads RepositoryName from any ECR input struct.
func repositoryOf(params any) string {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	f := v.Elem().FieldByName("RepositoryName")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*string]() || f.IsNil() {
		return ""
	}
	return *f.Interface().(*string) //nolint:forcetypeassert // the type is checked above
}

// attemptOf parses the SDK's "amz-sdk-request: attempt=2; max=6" header.
func attemptOf(header string) (attempt, maxAttempts int) {
	for _, part := range strings.Split(header, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(value)
		if err != nil {
			continue
		}
		switch name {
		case "attempt":
			attempt = n
		case "max":
			maxAttempts = n
		}
	}
	return attempt, maxAttempts
}
