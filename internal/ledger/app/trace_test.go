package app_test

import (
	"context"
	"log/slog"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/testlog"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

// Each step of a transfer is one line naming the request's correlation id
// and every stream it wrote, at the version it wrote; in an invocation
// X-Ray records, its commits keep the trace id and the line names it.
func TestEachStepNamesWhatItWrote(t *testing.T) {
	const trace = "1-5759e988-bd862e3fe1be46a994272793"
	store := eventstore.New(eventstore.NewMemoryBackend())
	openAccounts(t, store, "t1", map[string]int64{"a": 100, "b": 0})
	tr, _ := app.TransferStream("t1", "tr-1")
	req, err := app.EncodeTransfer(transfer.Requested{TransferID: "tr-1", FromAccountID: "a", ToAccountID: "b", Amount: 30, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(t.Context(), eventstore.NewStream(tr), req, eventstore.Metadata{CorrelationID: "corr-1"}, nil); err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	//lint:ignore SA1029 the key is aws-lambda-go's, a plain string
	ctx := context.WithValue(t.Context(), "x-amzn-trace-id", "Root="+trace+";Parent=53995c3f42cd8ad8;Sampled=1")
	if _, err := app.NewManager(store, slog.New(slog.NewJSONHandler(logs, nil)), 0).Drive(ctx, tr); err != nil {
		t.Fatal(err)
	}
	lines, err := logs.Lines()
	if err != nil {
		t.Fatal(err)
	}
	var steps []map[string]any
	for _, l := range lines {
		if l["msg"] == "transfer step" {
			steps = append(steps, l)
		}
	}
	// The debit writes the source and the transfer; the credit the
	// destination, the source and the transfer.
	want := []struct {
		step    string
		version float64
		commits []any
	}{
		{"debit", 2, []any{"t1#transfer#tr-1@2", "t1#account#a@4"}},
		{"credit", 3, []any{"t1#transfer#tr-1@3", "t1#account#b@2", "t1#account#a@5"}},
	}
	if len(steps) != len(want) {
		t.Fatalf("step lines %v, want %d", steps, len(want))
	}
	for i, w := range want {
		l := steps[i]
		if l["step"] != w.step || l["stream"] != tr.Key() || l["version"] != w.version || l["correlationId"] != "corr-1" || l["traceId"] != trace {
			t.Errorf("step %d: %v", i, l)
		}
		if got, _ := l["commits"].([]any); len(got) != len(w.commits) {
			t.Errorf("step %s wrote %v, want %v", w.step, l["commits"], w.commits)
		} else {
			for j := range got {
				if got[j] != w.commits[j] {
					t.Errorf("step %s wrote %v, want %v", w.step, got, w.commits)
				}
			}
		}
	}
	page, err := store.Read(t.Context(), tr, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Events {
		if e.TraceID != trace {
			t.Errorf("step event %d (%s) keeps trace %q", e.Version, e.Type, e.TraceID)
		}
	}
}
