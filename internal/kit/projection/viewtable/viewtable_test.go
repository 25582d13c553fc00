package viewtable_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/projection/viewtable"
)

// A write is stale when a condition alone refused it; a transaction that
// anything else cancelled is not stale.
func TestStale(t *testing.T) {
	reasons := func(codes ...string) error {
		var rs []types.CancellationReason
		for _, c := range codes {
			rs = append(rs, types.CancellationReason{Code: aws.String(c)})
		}
		return fmt.Errorf("append: %w", &types.TransactionCanceledException{CancellationReasons: rs})
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"no error", nil, false},
		{"other error", errors.New("connection reset"), false},
		{"put refused", fmt.Errorf("put: %w", &types.ConditionalCheckFailedException{}), true},
		{"position refused", reasons("ConditionalCheckFailed", "None", "None"), true},
		{"refused and throttled", reasons("ConditionalCheckFailed", "ThrottlingError"), false},
		{"cancelled without a refusal", reasons("None", "TransactionConflict"), false},
		{"no reasons", reasons(), false},
	} {
		if got := viewtable.Stale(c.err); got != c.want {
			t.Errorf("%s: Stale = %v, want %v", c.name, got, c.want)
		}
	}
}
