// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrpush

import (
	"errors"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// RetryCutShortResponses makes a retryer also retry responses that were cut
// short (the connection dropped inside the body), which the SDK treats as a
// deserialization failure and does not retry. Every ECR push operation can be
// repeated safely: a repeated InitiateLayerUpload only abandons an upload, a
// repeated part is refused with the byte to resume from, and a repeated
// completion is refused as already done.
func RetryCutShortResponses(r aws.RetryerV2) aws.RetryerV2 {
	return cutShortRetryer{r}
}

type cutShortRetryer struct{ aws.RetryerV2 }

func (r cutShortRetryer) IsErrorRetryable(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || r.RetryerV2.IsErrorRetryable(err)
}
