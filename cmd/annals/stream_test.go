package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/testclock"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/localaws/awstest"
)

// stream show prints a stream's events with their metadata and the
// ledger's fold of them, at the head, at a version or as of a time; as a
// table or as JSON.
func TestStreamShowCommand(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")
	store := eventstore.New(dynamostore.New(db, table), eventstore.WithClock(testclock.New(testclock.Start, time.Minute).Now))
	accounts := app.NewAccounts(store)
	stream, _ := app.AccountStream("acme", "acc-1")
	cur := eventstore.Current[account.Account]{Head: eventstore.NewStream(stream)}
	var recorded []time.Time
	for i, evs := range [][]account.Event{
		{account.AccountOpened{AccountID: "acc-1", Owner: "ann", Currency: "EUR"}, account.MoneyDeposited{Amount: 500, BalanceAfter: 500}},
		{account.MoneyWithdrawn{Amount: 120, BalanceAfter: 380}},
	} {
		enc, err := app.Encode(evs)
		if err != nil {
			t.Fatal(err)
		}
		meta := eventstore.Metadata{CommandID: fmt.Sprintf("cmd-%d", i+1), CorrelationID: fmt.Sprintf("corr-%d", i+1), CausationID: "cau", Actor: "ann"}
		if i == 1 {
			meta.TraceID = "1-5759e988-bd862e3fe1be46a994272793"
		}
		var recs []eventstore.Event
		if cur, recs, err = accounts.Append(ctx, cur, enc, meta, nil); err != nil {
			t.Fatal(err)
		}
		recorded = append(recorded, recs[0].RecordedAt)
	}
	env := map[string]string{"EVENTS_TABLE": table}

	stdout, _ := runOK(t, env, "stream", "show", stream.Key())
	checkContains(t, "the table", stdout,
		"acme#account#acc-1: 3 event(s) to its head",
		"VERSION", "TYPE", "SCHEMA", "OCCURRED", "RECORDED", "COMMAND", "CORRELATION", "CAUSATION", "ACTOR", "TRACE",
		"AccountOpened", "MoneyDeposited", "MoneyWithdrawn", "corr-1", "corr-2", "cmd-2", "1-5759e988-bd862e3fe1be46a994272793",
		"state at version 3", `"balance": 380`, `"owner": "ann"`)

	// At a version: the events up to it, the state right after it.
	stdout, _ = runOK(t, env, "stream", "show", stream.Key(), "--version", "2")
	checkContains(t, "at version 2", stdout, "2 event(s) to version 2", "state at version 2", `"balance": 500`)
	if strings.Contains(stdout, "MoneyWithdrawn") {
		t.Errorf("version 2 shows a later event:\n%s", stdout)
	}

	// As of a time, in JSON, flags before the stream.
	stdout, _ = runOK(t, env, "stream", "show", "--json", "--at", recorded[0].Format(time.RFC3339Nano), stream.Key())
	var shown struct {
		Stream string
		Events []struct {
			Version       int64
			Type          string
			CorrelationID string
			Data          json.RawMessage
		}
		State struct {
			Version int64
			Value   account.Account
		}
	}
	if err := json.Unmarshal([]byte(stdout), &shown); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if shown.Stream != stream.Key() || len(shown.Events) != 2 || shown.Events[1].Type != "MoneyDeposited" ||
		shown.Events[0].CorrelationID != "corr-1" || shown.State.Version != 2 || shown.State.Value.Balance != 500 {
		t.Errorf("--json --at the first commit: %+v", shown)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"stream", "show"}, exitUsage, "name one stream"},
		{[]string{"stream", "show", "acme#account"}, exitUsage, "is not tenant#category#id"},
		{[]string{"stream", "show", stream.Key(), "--version", "2", "--at", "2026-03-01T00:00:00Z"}, exitUsage, "not both"},
		{[]string{"stream", "show", stream.Key(), "--at", "yesterday"}, exitUsage, "is not an RFC 3339 time"},
		{[]string{"stream", "list"}, exitUsage, "annals stream show STREAM"},
		{[]string{"stream", "show", "acme#account#nobody"}, exitFailed, "not found"},
		{[]string{"stream", "show", stream.Key(), "--version", "9"}, exitFailed, "version"},
	} {
		code, _, stderr := runCLI(t, env, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("annals %s: exit %d, %q; want %d and %q", strings.Join(c.args, " "), code, stderr, c.code, c.want)
		}
	}
}
