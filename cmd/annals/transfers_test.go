package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/eventstore/storetest"
	"annals/internal/kit/fanout"
	"annals/internal/kit/fanout/fanouttest"
	"annals/internal/kit/sqsqueue"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// A transfer the view shows pending (its process manager never came) is
// driven to its end by the sweep, which prints what it did; a second
// sweep finds nothing once the view has caught up.
func TestSweepTransfersCommand(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := awstest.DynamoDB(t)
	eventsTable, transfersTable := awstest.Table(t, db, "EventsTable"), awstest.Table(t, db, "TransfersTable")
	store := seedTransferAccounts(t, db, eventsTable)
	stream, _ := app.TransferStream("acme", "tr-1")
	evs, _ := app.EncodeTransfer(transfer.Requested{TransferID: "tr-1", FromAccountID: "a", ToAccountID: "b", Amount: 200, Currency: "EUR"})
	if _, err := store.Append(ctx, eventstore.NewStream(stream), evs, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	view := views.NewTransfers(views.NewDynamoTransfers(db, transfersTable), store, nil, slog.New(slog.DiscardHandler))
	project := func() {
		page, err := store.Read(ctx, stream, 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := view.Apply(ctx, page.Events); err != nil {
			t.Fatal(err)
		}
	}
	project()

	env := map[string]string{"EVENTS_TABLE": eventsTable, "TRANSFERS_TABLE": transfersTable, "SKIPPED_QUEUE_URL": awstest.Queue(t, "FanoutSkippedQueue")}
	code, stdout, stderr := runCLI(t, env, "sweep-transfers", "--older-than", "0s")
	if code != exitOK || !strings.Contains(stdout, "1 pending, 0 skipped by the fan-out, 1 completed, 0 failed, 0 not moved") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	cur, err := app.NewTransfers(store).Load(ctx, stream)
	if err != nil || cur.State.Status != transfer.StatusCompleted {
		t.Fatalf("transfer after the sweep: %+v, %v", cur.State, err)
	}
	project()
	if code, stdout, _ := runCLI(t, env, "sweep-transfers", "--older-than", "0s"); code != exitOK || !strings.Contains(stdout, "0 pending") {
		t.Fatalf("second sweep: exit %d, %s", code, stdout)
	}

	if code, _, stderr := runCLI(t, nil, "sweep-transfers"); code != exitUsage ||
		!strings.Contains(stderr, "--events-table (or EVENTS_TABLE), --transfers-table (or TRANSFERS_TABLE), --skipped-queue (or SKIPPED_QUEUE_URL)") {
		t.Errorf("without tables: exit %d, %s", code, stderr)
	}
}

// A transfer whose request the fan-out skipped never reaches the transfer
// view nor the process manager: the view's Pending index cannot list it.
// The sweep finds it through the fan-out's letter and drives it to its
// end; the letter stays for the republish, which then sends the request
// to the consumers, and a later sweep has nothing left to find.
func TestSweepTransfersFindsWhatTheFanoutSkipped(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := awstest.DynamoDB(t)
	eventsTable, transfersTable := awstest.Table(t, db, "EventsTable"), awstest.Table(t, db, "TransfersTable")
	queue := awstest.Queue(t, "FanoutSkippedQueue")
	kin := awstest.KinesisStream(t, "EventsStream")
	store := seedTransferAccounts(t, db, eventsTable)
	stream, _ := app.TransferStream("acme", "tr-stranded")
	evs, _ := app.EncodeTransfer(transfer.Requested{TransferID: "tr-stranded", FromAccountID: "a", ToAccountID: "b", Amount: 300, Currency: "EUR"})
	if _, err := store.Append(ctx, eventstore.NewStream(stream), evs, eventstore.Metadata{}, nil); err != nil {
		t.Fatal(err)
	}
	// The fan-out met the request's record unreadable (say, a fan-out
	// older than the store's format): it skipped it, with a letter.
	fan := fanout.New(fanout.Config{Kinesis: awstest.Kinesis(t), Stream: kin, Skipped: sqsqueue.New(awstest.SQS(t), queue), Log: slog.New(slog.DiscardHandler)})
	record := fanouttest.Inserts(t, []eventstore.Item{storetest.Undecodable(fanouttest.StoredCommit(t, db, eventsTable, stream, 1))})
	if resp, err := fan.Handle(ctx, record); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("fan-out: %+v, %v", resp, err)
	}

	env := map[string]string{"EVENTS_TABLE": eventsTable, "TRANSFERS_TABLE": transfersTable, "SKIPPED_QUEUE_URL": queue, "STREAM_NAME": kin}
	code, stdout, stderr := runCLI(t, env, "sweep-transfers")
	if code != exitOK || !strings.Contains(stdout, "0 pending, 1 skipped by the fan-out, 1 completed, 0 failed, 0 not moved") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	cur, err := app.NewTransfers(store).Load(ctx, stream)
	if err != nil || cur.State.Status != transfer.StatusCompleted {
		t.Fatalf("transfer after the sweep: %+v, %v; want completed", cur.State, err)
	}
	// The letter is still there: the request has not reached the
	// consumers. The republish sends it and deletes the letter.
	stdout, _ = runOK(t, env, "redrive", "--skipped", "--republish")
	checkContains(t, "republish", stdout, "republished "+stream.Key()+" at 1..1", "1 deleted, 0 kept")
	if code, stdout, _ := runCLI(t, env, "sweep-transfers"); code != exitOK || !strings.Contains(stdout, "0 skipped by the fan-out") {
		t.Errorf("sweep after the republish: exit %d, %s", code, stdout)
	}
}

// seedTransferAccounts opens, in tenant acme, account a holding 500 and an
// empty account b, and returns the event store over eventsTable.
func seedTransferAccounts(t *testing.T, db *dynamodb.Client, eventsTable string) *eventstore.Store {
	t.Helper()
	store := eventstore.New(dynamostore.New(db, eventsTable))
	accounts := app.NewAccounts(store)
	for id, deposit := range map[string]int64{"a": 500, "b": 0} {
		s, err := app.AccountStream("acme", id)
		if err != nil {
			t.Fatal(err)
		}
		evs := []account.Event{account.AccountOpened{AccountID: id, Owner: "o", Currency: "EUR"}}
		if deposit > 0 {
			evs = append(evs, account.MoneyDeposited{Amount: deposit, BalanceAfter: deposit})
		}
		enc, err := app.Encode(evs)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := accounts.Append(t.Context(), eventstore.Current[account.Account]{Head: eventstore.NewStream(s)}, enc, eventstore.Metadata{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return store
}
