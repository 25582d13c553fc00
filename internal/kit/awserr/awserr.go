// Package awserr sorts the errors of AWS SDK calls into what callers branch
// on, the same way for every adapter: throttling (the request was refused
// for capacity, nothing happened, retry later), an unknown outcome (a write
// got no definite answer and may have been applied: resend it identically),
// and unavailability (a read failed, nothing changed). Everything else is
// returned as it is, with the operation named.
package awserr

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"annals/internal/kit/eventstore"
)

var (
	throttles  = retry.IsErrorThrottles(retry.DefaultThrottles)
	retryables = retry.IsErrorRetryables(retry.DefaultRetryables)
)

// Throttled reports whether err is AWS refusing a request for capacity
// (ThrottlingException, ProvisionedThroughputExceededException, ...).
func Throttled(err error) bool {
	return throttles.IsErrorThrottle(err) == aws.TrueTernary
}

// transient reports whether err leaves a request's fate open: a 5xx, a
// broken connection, a timeout, a deadline or cancellation.
func transient(err error) bool {
	return retryables.IsErrorRetryable(err) == aws.TrueTernary ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// Write classifies the error of a write: throttling wraps
// eventstore.ErrThrottled; a failure that leaves the outcome open wraps
// eventstore.ErrUnknownOutcome.
func Write(op string, err error) error { return classify(op, err, eventstore.ErrUnknownOutcome) }

// Read classifies the error of a read: throttling wraps
// eventstore.ErrThrottled; any other transient failure wraps
// eventstore.ErrUnavailable, since a read changes nothing.
func Read(op string, err error) error { return classify(op, err, eventstore.ErrUnavailable) }

// classify wraps err with the operation, and with ErrThrottled or, for
// another transient failure, with what that failure means for the caller.
func classify(op string, err, transientMeans error) error {
	switch {
	case err == nil:
		return nil
	case Throttled(err):
		return fmt.Errorf("%s: %w: %w", op, eventstore.ErrThrottled, err)
	case transient(err):
		return fmt.Errorf("%s: %w: %w", op, transientMeans, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
