package main

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// The CLI rebuilds the transfer view into a table it creates from
// template.yaml (with its Pending index), verifies it, and the sweeper
// works from the fresh table as it would after the switch; a resume then
// catches the fresh table up, and shows the live one lagging.
func TestRebuildTransfersCommand(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := awstest.DynamoDB(t)
	eventsTable, liveTable := awstest.Table(t, db, "EventsTable"), awstest.Table(t, db, "TransfersTable")
	store := seedTransferAccounts(t, db, eventsTable)
	manager := app.NewManager(store, slog.New(slog.DiscardHandler), 0)
	live := views.NewTransfers(views.NewDynamoTransfers(db, liveTable), store, nil, slog.New(slog.DiscardHandler))
	var pending eventstore.StreamID
	for i, drive := range []bool{true, false, true} {
		id := fmt.Sprintf("tr-%d", i)
		stream, _ := app.TransferStream("acme", id)
		evs, _ := app.EncodeTransfer(transfer.Requested{TransferID: id, FromAccountID: "a", ToAccountID: "b", Amount: 100, Currency: "EUR"})
		if _, err := store.Append(ctx, eventstore.NewStream(stream), evs, eventstore.Metadata{CorrelationID: "c-" + id}, nil); err != nil {
			t.Fatal(err)
		}
		if drive {
			if _, err := manager.Drive(ctx, stream); err != nil {
				t.Fatal(err)
			}
		} else {
			pending = stream
		}
		page, err := store.Read(ctx, stream, 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := live.Apply(ctx, page.Events); err != nil {
			t.Fatal(err)
		}
	}

	fresh := freshName(t, db)
	env := map[string]string{"EVENTS_TABLE": eventsTable, "TRANSFERS_TABLE": liveTable}
	stdout, _ := runOK(t, env, "rebuild", "transfers", "--table", fresh, "--segments", "2", "--verify")
	checkContains(t, "summary", stdout,
		"rebuilt the transfers view into "+fresh,
		"streams      3\n",
		"3 stream(s), 3 equal, 0 lagging, 0 different",
	)

	// Switched: the sweeper reads the fresh table's Pending index.
	switched := map[string]string{"EVENTS_TABLE": eventsTable, "TRANSFERS_TABLE": fresh, "SKIPPED_QUEUE_URL": awstest.Queue(t, "FanoutSkippedQueue")}
	code, stdout, stderr := runCLI(t, switched, "sweep-transfers", "--older-than", "0s")
	if code != exitOK || !strings.Contains(stdout, "1 pending, 0 skipped by the fan-out, 1 completed, 0 failed, 0 not moved") {
		t.Fatalf("sweep of the fresh table: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	// The catch-up brings the swept transfer into the fresh table; the
	// live one, which nothing feeds any more, lags behind on it.
	code, stdout, stderr = runCLI(t, env, "rebuild", "transfers", "--table", fresh, "--resume", "--segments", "2", "--verify")
	if code != exitOK || !strings.Contains(stdout, "3 stream(s), 2 equal, 1 lagging, 0 different") || !strings.Contains(stdout, "lagging  "+pending.Key()) {
		t.Fatalf("resume: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	row, _, err := views.NewDynamoTransfers(db, fresh).Transfer(ctx, "acme", pending.ID)
	if err != nil || row.State.Transfer.Status != transfer.StatusCompleted || row.State.Transfer.CorrelationID != "c-"+pending.ID {
		t.Errorf("swept transfer in the fresh table: %+v, %v", row, err)
	}
	code, stdout, _ = runCLI(t, switched, "sweep-transfers", "--older-than", "0s")
	if code != exitOK || !strings.Contains(stdout, "0 pending") {
		t.Errorf("second sweep of the fresh table: exit %d, %s", code, stdout)
	}
}
