// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"context"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"
)

// ServiceQuotas are ECR's default request rates per account and region, in
// requests per second (AWS service quotas; adjustable on request).
var ServiceQuotas = map[string]float64{
	"InitiateLayerUpload":         100,
	"UploadLayerPart":             500,
	"CompleteLayerUpload":         100,
	"BatchCheckLayerAvailability": 1000,
	"PutImage":                    10,
}

// WithQuotas paces a client's requests to the given rates with one token
// bucket per operation, shared by every call made through the client, so that
// many resources using one provider configuration do not storm the API into
// throttling. Each attempt, retries included, takes a token; waiting ends
// when ctx is canceled. A bucket holds a tenth of a second's tokens: Terraform
// starts a new provider process for each phase, each with a full bucket, and
// small buckets keep back-to-back processes (plan, then apply) from adding
// their bursts up past the quota.
func WithQuotas(quotas map[string]float64) func(*ecr.Options) {
	limiters := make(map[string]*rate.Limiter, len(quotas))
	for op, perSecond := range quotas {
		limiters[op] = rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond/10)))
	}
	pace := middleware.FinalizeMiddlewareFunc("ECRQuotaPacing", func(ctx context.Context, in middleware.FinalizeInput,
		next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if l := limiters[awsmiddleware.GetOperationName(ctx)]; l != nil {
			if err := l.Wait(ctx); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
		}
		return next.HandleFinalize(ctx, in)
	})
	return func(o *ecr.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			// After the retry middleware, so that every attempt is paced.
			return stack.Finalize.Insert(pace, "Retry", middleware.After)
		})
	}
}
