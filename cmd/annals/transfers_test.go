package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
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

	env := map[string]string{"EVENTS_TABLE": eventsTable, "TRANSFERS_TABLE": transfersTable}
	code, stdout, stderr := runCLI(t, env, "sweep-transfers", "--older-than", "0s")
	if code != exitOK || !strings.Contains(stdout, "1 pending, 1 completed, 0 failed, 0 not moved") {
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

	if code, _, stderr := runCLI(t, nil, "sweep-transfers"); code != exitUsage || !strings.Contains(stderr, "--events-table (or EVENTS_TABLE)") {
		t.Errorf("without tables: exit %d, %s", code, stderr)
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
