package views_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/lambdatest"
)

const (
	goldenTenant  = "demo"
	goldenAccount = "0195a1b2-0000-7000-8000-000000000001"
)

// goldenEvent is events/projector/deposit-after-gap.json: version 3 of the
// demo account, whose versions 1 and 2 (events/fanout/commit-insert.json's
// commit) the test seeds in the events table.
func goldenEvent(t testing.TB) (events.KinesisEvent, []byte) {
	t.Helper()
	return lambdatest.Payload[events.KinesisEvent](t, "projector", "deposit-after-gap.json")
}

// seedGolden appends the demo account's first commit (opened by alice,
// 1000 deposited) to the events table.
func seedGolden(t testing.TB, store *eventstore.Store) {
	t.Helper()
	s, err := app.AccountStream(goldenTenant, goldenAccount)
	if err != nil {
		t.Fatal(err)
	}
	news, err := app.Encode([]account.Event{
		account.AccountOpened{AccountID: goldenAccount, Owner: "alice", Currency: "EUR"},
		account.MoneyDeposited{Amount: 1000, Reference: "opening deposit", BalanceAfter: 1000},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(t.Context(), eventstore.NewStream(s), news, eventstore.Metadata{Actor: "alice"}, nil); err != nil {
		t.Fatal(err)
	}
}

// checkGoldenRow checks the view the golden payload must leave: the gap
// filled from the events table, then version 3 applied.
func checkGoldenRow(t testing.TB, view views.AccountStore) {
	t.Helper()
	row, found, err := view.Account(t.Context(), goldenTenant, goldenAccount)
	if err != nil || !found {
		t.Fatalf("demo account: found %v, %v", found, err)
	}
	if row.Version != 3 || row.State.Balance != 1500 || row.State.Owner != "alice" || row.State.Status != account.StatusOpen ||
		row.State.Currency != "EUR" || row.Quarantine != nil ||
		!row.UpdatedAt.Equal(time.Date(2026, 3, 1, 9, 5, 0, 500000000, time.UTC)) {
		t.Errorf("demo account %+v, want version 3, balance 1500, updated at the event's recordedAt", row)
	}
}

// checkGoldenHistory checks the history the golden payload must leave: the
// opening deposit from the gap, then version 3's, newest first.
func checkGoldenHistory(t testing.TB, history views.HistoryStore) {
	t.Helper()
	h, err := history.Transactions(t.Context(), goldenTenant, goldenAccount, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range h {
		got = append(got, fmt.Sprintf("%d:%s:%d:%d", e.Version, e.Kind, e.Amount, e.BalanceAfter))
	}
	if fmt.Sprint(got) != "[3:deposit:500:1500 2:deposit:1000:1000]" {
		t.Errorf("demo history %v, want version 3's deposit of 500, then the opening 1000", got)
	}
}

// The payload carries exactly what the fan-out's encoder writes.
func TestGoldenPayloadIsTheFanoutEnvelope(t *testing.T) {
	ev, _ := goldenEvent(t)
	if len(ev.Records) != 1 {
		t.Fatalf("%d records, want 1", len(ev.Records))
	}
	r := ev.Records[0].Kinesis
	evs, err := envelope.Decode(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := envelope.Encode(evs)
	if err != nil || !bytes.Equal(again, r.Data) {
		t.Errorf("re-encoded envelope differs (%v):\n%s\n%s", err, again, r.Data)
	}
	if evs[0].Stream.Key() != r.PartitionKey || evs[0].Version != 3 || evs[0].Stream.Tenant != goldenTenant || evs[0].Stream.ID != goldenAccount {
		t.Errorf("event %+v under key %s", evs[0], r.PartitionKey)
	}
}

func TestGoldenPayload(t *testing.T) {
	t.Parallel()
	m := newMotoProjector(t, nil)
	seedGolden(t, m.events)
	ev, _ := goldenEvent(t)
	resp, err := m.h.Handle(t.Context(), ev)
	if err != nil || resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v; want an empty list of failures", resp, err)
	}
	checkGoldenRow(t, m.view)
	checkGoldenHistory(t, m.history)
}

// The built function, under the Lambda Runtime Interface Emulator, against
// moto: the golden payload fills its gap from the events table and lands in
// the accounts table.
func TestPayloadThroughTheBuiltFunction(t *testing.T) {
	t.Parallel()
	bootstrap := lambdatest.Build(t, "ProjectorFunction")
	db := awstest.DynamoDB(t)
	eventsTable := awstest.Table(t, db, "EventsTable")
	queue := awstest.Queue(t, "ProjectorDeadLetterQueue")
	// Every view of the registry gets a table of its own.
	env := map[string]string{"EVENTS_TABLE": eventsTable, "DEAD_LETTER_QUEUE_URL": queue}
	tables := map[string]string{}
	for _, v := range views.All {
		tables[v.Name] = awstest.Table(t, db, v.Table)
		env[v.Env] = tables[v.Name]
	}
	accountsTable, historyTable := tables[views.AccountsView], tables[views.HistoryView]
	seedGolden(t, eventstore.New(dynamostore.New(db, eventsTable)))
	_, raw := goldenEvent(t)
	fn := lambdatest.Start(t, bootstrap, env)
	resp := lambdatest.Call[events.KinesisEventResponse](t, fn, raw)
	if resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Errorf("response %+v, want an empty list of failures", resp)
	}
	checkGoldenRow(t, views.NewDynamoAccounts(db, accountsTable))
	checkGoldenHistory(t, views.NewDynamoHistory(db, historyTable))
	if !fn.LogsContain(`"msg":"projector"`, 5*time.Second) {
		t.Errorf("no summary log line in\n%s", fn.Logs())
	}
}

// Without its configuration the function fails at start-up, naming every
// missing variable.
func TestMissingConfigurationFailsFast(t *testing.T) {
	t.Parallel()
	bootstrap := lambdatest.Build(t, "ProjectorFunction")
	_, raw := goldenEvent(t)
	names := []string{"EVENTS_TABLE", "DEAD_LETTER_QUEUE_URL"}
	for _, v := range views.All {
		names = append(names, v.Env)
	}
	env := map[string]string{}
	for _, name := range names {
		env[name] = ""
	}
	fn := lambdatest.Start(t, bootstrap, env)
	out, err := fn.Invoke(t.Context(), raw)
	if err == nil {
		t.Fatalf("invoke without configuration succeeded: %s", out)
	}
	for _, name := range names {
		if !fn.LogsContain(name, 5*time.Second) {
			t.Errorf("the start-up error does not name %s:\n%s", name, fn.Logs())
		}
	}
}
