package processapi_test

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/processapi"
	"annals/internal/ledger/transfer"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/lambdatest"
)

// payloadExpectations says how each payload in events/transfers leaves the
// demo tenant's transfers and accounts (acc-demo-1 seeded with 5,000,
// acc-demo-2 empty; tr-demo-1 asks for 2,000, tr-demo-2 for 9,000).
var payloadExpectations = map[string]struct {
	status             map[string]transfer.Status
	balance1, balance2 int64
}{
	"transfer-requested.json":          {map[string]transfer.Status{"tr-demo-1": transfer.StatusCompleted, "tr-demo-2": transfer.StatusPending}, 3000, 2000},
	"transfer-insufficient-funds.json": {map[string]transfer.Status{"tr-demo-1": transfer.StatusPending, "tr-demo-2": transfer.StatusFailed}, 5000, 0},
	// An account's record is skipped; the transfer's, twice, moves once.
	"transfer-redelivered.json": {map[string]transfer.Status{"tr-demo-1": transfer.StatusCompleted, "tr-demo-2": transfer.StatusPending}, 3000, 2000},
}

func payloads(t *testing.T) map[string][]byte {
	t.Helper()
	return lambdatest.Payloads(t, "transfers", payloadExpectations)
}

// seedDemo writes the demo accounts and both requested transfers.
func seedDemo(t *testing.T, store *eventstore.Store) {
	t.Helper()
	accounts := app.NewAccounts(store)
	for id, deposit := range map[string]int64{"acc-demo-1": 5000, "acc-demo-2": 0} {
		s, _ := app.AccountStream("demo", id)
		evs := []account.Event{account.AccountOpened{AccountID: id, Owner: "alice", Currency: "EUR"}}
		if deposit > 0 {
			evs = append(evs, account.MoneyDeposited{Amount: deposit, Reference: "seed", BalanceAfter: deposit})
		}
		enc, _ := app.Encode(evs)
		if _, _, err := accounts.Append(t.Context(), eventstore.Current[account.Account]{Head: eventstore.NewStream(s)}, enc, eventstore.Metadata{Actor: "seed"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for id, amount := range map[string]int64{"tr-demo-1": 2000, "tr-demo-2": 9000} {
		s, _ := app.TransferStream("demo", id)
		enc, _ := app.EncodeTransfer(transfer.Requested{TransferID: id, FromAccountID: "acc-demo-1", ToAccountID: "acc-demo-2", Amount: amount, Currency: "EUR", Reference: "rent"})
		if _, err := store.Append(t.Context(), eventstore.NewStream(s), enc, eventstore.Metadata{Actor: "alice"}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func checkDemo(t *testing.T, store *eventstore.Store, name string) {
	t.Helper()
	want := payloadExpectations[name]
	for id, status := range want.status {
		s, _ := app.TransferStream("demo", id)
		cur, err := app.NewTransfers(store).Load(t.Context(), s)
		if err != nil || cur.State.Status != status {
			t.Errorf("%s: transfer %s is %q (%v), want %q", name, id, cur.State.Status, err, status)
		}
	}
	for id, balance := range map[string]int64{"acc-demo-1": want.balance1, "acc-demo-2": want.balance2} {
		s, _ := app.AccountStream("demo", id)
		cur, err := app.NewAccounts(store).Load(t.Context(), s)
		if err != nil || cur.State.Balance != balance || len(cur.State.TransfersInFlight) != 0 {
			t.Errorf("%s: %s balance %d in flight %v (%v), want %d and none", name, id, cur.State.Balance, cur.State.TransfersInFlight, err, balance)
		}
	}
}

// Each payload's records carry the fan-out's envelope under their stream's
// key, as the real stream does.
func TestPayloadsAreFanoutRecords(t *testing.T) {
	for name, raw := range payloads(t) {
		var ev events.KinesisEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, r := range ev.Records {
			evs, err := envelope.Decode(r.Kinesis.Data)
			if err != nil || evs[0].Stream.Key() != r.Kinesis.PartitionKey {
				t.Errorf("%s: record %s: %v", name, r.Kinesis.SequenceNumber, err)
			}
		}
	}
}

func TestPayloadsThroughTheHandler(t *testing.T) {
	for name, raw := range payloads(t) {
		t.Run(name, func(t *testing.T) {
			var ev events.KinesisEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			store := eventstore.New(eventstore.NewMemoryBackend())
			seedDemo(t, store)
			resp, err := processapi.NewHandler(app.NewManager(store, slog.New(slog.DiscardHandler), 0), slog.New(slog.DiscardHandler)).Handle(t.Context(), ev)
			if err != nil || resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("Handle = %+v, %v", resp, err)
			}
			checkDemo(t, store, name)
		})
	}
}

// The built function, under the Lambda Runtime Interface Emulator, against
// moto: each payload on freshly seeded tables.
func TestPayloadsThroughTheBuiltFunction(t *testing.T) {
	bootstrap := lambdatest.Build(t, "TransfersFunction")
	db := awstest.DynamoDB(t)
	for name, raw := range payloads(t) {
		t.Run(name, func(t *testing.T) {
			table := awstest.Table(t, db, "EventsTable")
			store := eventstore.New(dynamostore.New(db, table))
			seedDemo(t, store)
			fn := lambdatest.Start(t, bootstrap, map[string]string{"EVENTS_TABLE": table})
			resp := lambdatest.Call[events.KinesisEventResponse](t, fn, raw)
			if resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("response %+v, want an empty list of failures", resp)
			}
			checkDemo(t, store, name)
		})
	}
}
