package awsops

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// sesAPI lists the SES v2 calls keyleak makes.
type sesAPI interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// SES sends complete MIME messages through Amazon SES v2, as an
// alternative to SMTP for the InfoSec email.
type SES struct {
	api sesAPI
}

// newSES returns an SES sender using cfg (region, credentials and, for
// the local world, BaseEndpoint).
func newSES(cfg aws.Config) *SES {
	return &SES{api: sesv2.NewFromConfig(cfg)}
}

// SendRaw sends raw, a complete message with its headers, from the
// envelope sender from to the envelope recipients to, and returns the
// message ID SES assigned. A failure is an *SESError that says whether
// it is worth retrying.
func (s *SES) SendRaw(ctx context.Context, from string, to []string, raw []byte) (string, error) {
	out, err := s.api.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(from),
		Destination:      &types.Destination{ToAddresses: to},
		Content:          &types.EmailContent{Raw: &types.RawMessage{Data: raw}},
	})
	if err != nil {
		return "", newSESError(err)
	}
	return aws.ToString(out.MessageId), nil
}

// SESError is a failed SES call. Retryable is true for throttling, server
// errors and failures to reach SES; false for refusals that only a change
// of configuration or content can fix (an unverified sender, a paused
// account, a rejected message).
type SESError struct {
	Code      string // the SES error code, such as "MessageRejected"; empty when SES was not reached
	Status    int    // the HTTP status; 0 when SES was not reached
	retryable bool
	err       error
}

func (e *SESError) Error() string {
	return fmt.Sprintf("ses send email: %v", e.err)
}

func (e *SESError) Unwrap() error { return e.err }

// Retryable reports whether sending again later may succeed.
func (e *SESError) Retryable() bool { return e.retryable }

// sesRetryCodes are error codes that pass with time, whatever the status.
var sesRetryCodes = map[string]bool{
	"TooManyRequestsException": true,
	"Throttling":               true,
	"ThrottlingException":      true,
	"LimitExceededException":   true, // the sending quota refills
	"RequestTimeout":           true,
	"ServiceUnavailable":       true,
	"InternalFailure":          true,
}

func newSESError(err error) *SESError {
	e := &SESError{err: err, retryable: true}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		e.Code = apiErr.ErrorCode()
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		e.Status = respErr.HTTPStatusCode()
	}
	switch {
	case sesRetryCodes[e.Code]:
		e.retryable = true
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		e.retryable = true
	case e.Status >= 400:
		e.retryable = false
	case apiErr != nil && apiErr.ErrorFault() == smithy.FaultClient:
		e.retryable = false
	}
	// Anything else (a reset connection, a timeout, a cancelled context)
	// never reached a verdict from SES: it stays retryable.
	return e
}
