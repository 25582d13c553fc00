package projection_test

import (
	"context"
	"strings"
	"testing"

	"annals/internal/kit/emf"
	"annals/internal/kit/emf/emftest"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection/notebooktest"
)

// Each view logs each commit it stores, once, with the commit's
// correlation and trace ids; a duplicate it skips is not logged again.
func TestEachViewLogsEachCommitItApplies(t *testing.T) {
	f := newFixture(t)
	a := newNotebook(t, notebooktest.Category, "a")
	first := a.Write(t, f.events, notebooktest.Note("n1"))
	traced := notebooktest.NewWriter(a.Stream)
	traced.Head = first.Head
	c, err := f.events.Append(context.Background(), traced.Head, []eventstore.NewEvent{notebooktest.Note("n2"), notebooktest.Note("n3")},
		eventstore.Metadata{CorrelationID: "corr-2", TraceID: "1-5759e988-bd862e3fe1be46a994272793"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Both commits in one batch, the second twice.
	f.handle(t, record(t, 1, first), record(t, 2, c), record(t, 3, c))

	applied := map[string][]map[string]any{}
	lines, err := f.logs.Lines()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if l["msg"] == "projection applied a commit" {
			view, _ := l["view"].(string)
			applied[view] = append(applied[view], l)
		}
	}
	for _, view := range []string{"notes", "count"} {
		got := applied[view]
		if len(got) != 2 {
			t.Fatalf("%s: %d lines, want one per commit: %v", view, len(got), got)
		}
		if got[0]["version"] != 1.0 || got[0]["lastVersion"] != 1.0 || got[0]["traceId"] != nil {
			t.Errorf("%s: first commit's line %v", view, got[0])
		}
		l := got[1]
		if l["stream"] != a.Stream.Key() || l["version"] != 2.0 || l["lastVersion"] != 3.0 ||
			l["correlationId"] != "corr-2" || l["traceId"] != "1-5759e988-bd862e3fe1be46a994272793" {
			t.Errorf("%s: second commit's line %v", view, l)
		}
	}

	// Outside the projector's batches (a rebuild, a lift), the lines are
	// debug lines: a rebuild stores commits by the thousand.
	f.logs.Reset()
	more, err := f.events.Append(context.Background(), c.Head, []eventstore.NewEvent{notebooktest.Note("n4")}, eventstore.Metadata{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.notesView.Apply(context.Background(), more.Events); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.notes.Get(a.Stream); got.Pos.Version != 4 || strings.Contains(f.logs.String(), "projection applied a commit") {
		t.Errorf("applied outside a batch: at %d, logged %s", got.Pos.Version, f.logs.String())
	}
}

// With metrics, the batch's line is the records it held and the lag of
// the oldest commit it applied; a batch that applied nothing has no lag.
func TestTheBatchLineIsItsMetrics(t *testing.T) {
	f := newFixture(t)
	f.h.WithMetrics(emf.New("annals", emf.Dimension{Name: "FunctionName", Value: "projector"}))
	a := newNotebook(t, notebooktest.Category, "a")
	c := a.write(t, f.events, "n1")
	for _, batch := range []struct {
		name string
		lag  bool
	}{{"first delivery", true}, {"a duplicate", false}} {
		f.logs.Reset()
		f.handle(t, record(t, 1, c), record(t, 2, c))
		var line string
		for l := range strings.Lines(f.logs.String()) {
			if strings.Contains(l, `"msg":"projector"`) {
				line = l
			}
		}
		got, err := emftest.Read([]byte(line))
		if err != nil {
			t.Fatalf("%s: %v: %s", batch.name, err, line)
		}
		if m := got["records"]; m.Value != 2 || m.Unit != emf.Count || m.Dimensions["FunctionName"] != "projector" {
			t.Errorf("%s: records %+v", batch.name, m)
		}
		if m, ok := got["lagMs"]; ok != batch.lag || ok && (m.Value < 0 || m.Unit != emf.Milliseconds) {
			t.Errorf("%s: lag %+v (%v), want one: %v", batch.name, m, ok, batch.lag)
		}
	}
}
