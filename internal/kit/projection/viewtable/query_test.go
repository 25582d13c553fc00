package viewtable_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/projection/viewtable"
)

// pager serves n items, numbered from 0, in pages of at most the request's
// Limit and of at most size (DynamoDB's 1 MB), and records each Limit.
type pager struct {
	n, size int
	limits  []int32 // 0: none
}

func (p *pager) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	from := 0
	if in.ExclusiveStartKey != nil {
		from = int(viewtable.Read(in.ExclusiveStartKey).N("i")) + 1
	}
	p.limits = append(p.limits, aws.ToInt32(in.Limit))
	to := min(p.n, from+p.size)
	if in.Limit != nil {
		to = min(to, from+int(*in.Limit))
	}
	out := &dynamodb.QueryOutput{}
	for i := from; i < to; i++ {
		out.Items = append(out.Items, map[string]types.AttributeValue{"i": viewtable.N(int64(i))})
	}
	if to < p.n {
		out.LastEvaluatedKey = out.Items[len(out.Items)-1]
	}
	return out, nil
}

// Query reads on across pages until it has what was wanted, asking each
// page for no more than is still wanted, within the page bound.
func TestQueryPages(t *testing.T) {
	for _, c := range []struct {
		name               string
		n, size, want, max int
		got                int
		limits             []int32
	}{
		{name: "all, one page", n: 5, size: 10, got: 5, limits: []int32{0}},
		{name: "all, pages ended at 1 MB", n: 5, size: 2, got: 5, limits: []int32{0, 0, 0}},
		{name: "fewer than there are", n: 10, size: 10, want: 4, got: 4, limits: []int32{4}},
		{name: "a page ended early", n: 10, size: 3, want: 7, got: 7, limits: []int32{7, 4, 1}},
		{name: "more than there are", n: 3, size: 10, want: 5, got: 3, limits: []int32{5}},
		{name: "bounded pages", n: 10, size: 10, want: 7, max: 3, got: 7, limits: []int32{3, 3, 1}},
		{name: "bounded pages, all", n: 5, size: 10, max: 2, got: 5, limits: []int32{2, 2, 2}},
	} {
		p := &pager{n: c.n, size: c.size}
		var got []int64
		err := viewtable.Query(t.Context(), p, &dynamodb.QueryInput{}, c.want, c.max, func(it map[string]types.AttributeValue) error {
			got = append(got, viewtable.Read(it).N("i"))
			return nil
		})
		if err != nil || len(got) != c.got || !slices.Equal(p.limits, c.limits) {
			t.Errorf("%s: %d items %v, limits %v (%v); want %d, limits %v", c.name, len(got), got, p.limits, err, c.got, c.limits)
		}
		for i, v := range got {
			if v != int64(i) {
				t.Errorf("%s: item %d is %d", c.name, i, v)
			}
		}
	}
}

// take's error stops the read and comes back as it is.
func TestQueryStopsAtTakesError(t *testing.T) {
	p := &pager{n: 10, size: 2}
	bad := errors.New("does not decode")
	calls := 0
	err := viewtable.Query(t.Context(), p, &dynamodb.QueryInput{}, 0, 0, func(map[string]types.AttributeValue) error {
		if calls++; calls == 3 {
			return bad
		}
		return nil
	})
	if err != bad || calls != 3 || len(p.limits) != 2 {
		t.Errorf("err %v after %d items and %d requests; want the decode error after 3 items, 2 requests", err, calls, len(p.limits))
	}
}
