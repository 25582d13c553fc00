package projection

import (
	"fmt"
	"testing"

	"annals/internal/kit/eventstore"
)

func TestRunsSortDeduplicateAndSplit(t *testing.T) {
	a := eventstore.StreamID{Tenant: "t", Category: "account", ID: "a"}
	b := eventstore.StreamID{Tenant: "t", Category: "account", ID: "b"}
	e := func(s eventstore.StreamID, v int64) eventstore.Event { return eventstore.Event{Stream: s, Version: v} }
	got := runs([]eventstore.Event{e(a, 4), e(a, 2), e(b, 1), e(a, 3), e(a, 2), e(a, 7), e(a, 8), e(b, 2)})
	var out []string
	for _, r := range got {
		s := r[0].Stream.ID + ":"
		for _, x := range r {
			s += fmt.Sprint(x.Version)
		}
		out = append(out, s)
	}
	if fmt.Sprint(out) != "[a:234 a:78 b:12]" {
		t.Errorf("runs %v, want [a:234 a:78 b:12]", out)
	}
	if len(runs(nil)) != 0 {
		t.Error("runs of nothing")
	}
}
