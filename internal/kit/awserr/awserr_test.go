package awserr_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/smithy-go"

	"annals/internal/kit/awserr"
	"annals/internal/kit/eventstore"
)

func TestClassification(t *testing.T) {
	throttled := &smithy.GenericAPIError{Code: "ThrottlingException"}
	refused := &smithy.GenericAPIError{Code: "ValidationException"}
	for _, tc := range []struct {
		name        string
		err         error
		read, write error // the sentinel each must wrap, nil for none
	}{
		{"throttling", throttled, eventstore.ErrThrottled, eventstore.ErrThrottled},
		{"provisioned throughput", &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException"}, eventstore.ErrThrottled, eventstore.ErrThrottled},
		{"a deadline", context.DeadlineExceeded, eventstore.ErrUnavailable, eventstore.ErrUnknownOutcome},
		{"a refusal", refused, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range []struct {
				got  error
				want error
			}{{awserr.Read("get", tc.err), tc.read}, {awserr.Write("put", tc.err), tc.write}} {
				if !errors.Is(c.got, tc.err) {
					t.Errorf("%v does not wrap the cause", c.got)
				}
				for _, s := range []error{eventstore.ErrThrottled, eventstore.ErrUnavailable, eventstore.ErrUnknownOutcome} {
					if errors.Is(c.got, s) != (s == c.want) {
						t.Errorf("%v: wraps %v = %v, want %v", c.got, s, errors.Is(c.got, s), s == c.want)
					}
				}
			}
		})
	}
	if awserr.Read("get", nil) != nil || awserr.Write("put", nil) != nil {
		t.Error("no error is classified as one")
	}
}
