package queryapi_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/personal"
	"annals/internal/kit/testlog"
	"annals/internal/ledger/queryapi"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// motoRig is the handler as the function wires it, over moto's tables made
// from template.yaml, with the query tables read through a Wire that
// counts requests and can inject faults.
type motoRig struct {
	h    *queryapi.Handler
	wire *awstest.Wire
	logs *testlog.Buffer
}

func newMotoRig(t *testing.T) *motoRig {
	t.Helper()
	db := awstest.DynamoDB(t)
	eventsTable := awstest.Table(t, db, "EventsTable")
	accountsTable := awstest.Table(t, db, "AccountsTable")
	historyTable := awstest.Table(t, db, "HistoryTable")
	store := eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithClock(demoClock()), eventstore.WithIDs(newID))
	seedDemo(t, store, views.NewDynamoAccounts(db, accountsTable), views.NewDynamoHistory(db, historyTable))
	r := &motoRig{wire: awstest.NewWire(), logs: &testlog.Buffer{}}
	readOnly := queryapi.ReadOnlyDynamoDB{DB: awstest.DynamoDBOver(t, r.wire, 1)}
	r.h = queryapi.New(queryapi.Config{Vault: personal.NewVault(personal.NewMemoryKeys()),
		Store:    store,
		Accounts: views.NewDynamoAccounts(readOnly, accountsTable),
		History:  views.NewDynamoHistory(readOnly, historyTable),
		NewID:    newID,
		Log:      slog.New(slog.NewJSONHandler(r.logs, nil)),
	})
	return r
}

func (r *motoRig) do(t *testing.T, q req) (body, map[string]any) {
	t.Helper()
	q.tenant = "demo"
	r.logs.Reset()
	resp, err := r.h.Handle(t.Context(), q.event())
	if err != nil {
		t.Fatal(err)
	}
	lines, err := r.logs.Lines()
	if err != nil || len(lines) != 1 {
		t.Fatalf("log lines %v (%v), want one", lines, err)
	}
	b := body{}
	if resp.Body != "" {
		if err := json.Unmarshal([]byte(resp.Body), &b); err != nil {
			t.Fatalf("body %q: %v", resp.Body, err)
		}
	}
	b["_status"] = float64(resp.StatusCode)
	return b, lines[0]
}

// On DynamoDB the view and history reads are metered like the events
// table's: the log line counts every request the wire carried.
func TestQueryTablesOnDynamoDB(t *testing.T) {
	t.Parallel()
	r := newMotoRig(t)
	for _, c := range []struct {
		q      req
		status int
		wire   map[string]int // requests to the query tables
		logged int            // requests to every table
	}{
		{req{path: "/accounts/acc-demo-1"}, 200, map[string]int{"GetItem": 1}, 1},
		{req{path: "/accounts/acc-demo-1", query: "minVersion=3"}, 200, map[string]int{"GetItem": 1}, 2},
		{req{path: "/accounts", query: "owner=alice&limit=1"}, 200, map[string]int{"Query": 1}, 1},
		{req{path: "/accounts/acc-demo-1/transactions"}, 200, map[string]int{"Query": 1}, 1},
		{req{path: "/accounts/acc-demo-2/transactions"}, 200, map[string]int{"Query": 1}, 2},
	} {
		r.wire.Reset()
		b, line := r.do(t, c.q)
		if int(num(b, "_status")) != c.status {
			t.Errorf("%s?%s: %v", c.q.path, c.q.query, b)
		}
		if got := r.wire.Counts(); fmt.Sprint(got) != fmt.Sprint(c.wire) {
			t.Errorf("%s?%s: the query tables got %v, want %v", c.q.path, c.q.query, got, c.wire)
		}
		if int(line["ddbRequests"].(float64)) != c.logged || line["rcu"].(float64) <= 0 {
			t.Errorf("%s?%s: logged %v requests, %v RCU, want %d requests", c.q.path, c.q.query, line["ddbRequests"], line["rcu"], c.logged)
		}
	}

	// Paging an owner's accounts through the index.
	var ids []string
	cursor := ""
	for range 3 {
		q := "owner=alice&limit=1"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		b, _ := r.do(t, req{path: "/accounts", query: q})
		for _, it := range items(t, b) {
			ids = append(ids, it["accountId"].(string))
		}
		if cursor = next(t, b); cursor == "" {
			break
		}
	}
	if fmt.Sprint(ids) != "[acc-demo-1 acc-demo-2]" {
		t.Errorf("alice's accounts %v", ids)
	}

	// DynamoDB's throttling of a view read is a 503 throttled, not the
	// client's fault.
	r.wire.Inject = func(op string, n int) *awstest.Fault { return awstest.Throttled("ThrottlingException") }
	b, line := r.do(t, req{path: "/accounts/acc-demo-1"})
	if b["type"] != httpapi.ProblemTypePrefix+httpapi.KindThrottled || b["status"] != float64(503) || line["error"] == nil {
		t.Errorf("throttled view read: %v, log %v", b, line)
	}
	r.wire.Inject = nil
}

// The read-only client refuses writes.
func TestReadOnlyDynamoDBRefusesWrites(t *testing.T) {
	ro := queryapi.ReadOnlyDynamoDB{}
	if _, err := ro.PutItem(t.Context(), nil); err != queryapi.ErrReadOnly {
		t.Errorf("PutItem: %v", err)
	}
	if _, err := ro.TransactWriteItems(t.Context(), nil); err != queryapi.ErrReadOnly {
		t.Errorf("TransactWriteItems: %v", err)
	}
}
