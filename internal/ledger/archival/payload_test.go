package archival_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/personal"
	"annals/internal/kit/testclock"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/archival"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/lambdatest"
)

// payloadExpectations says which of the seeded accounts each payload in
// events/archiver archives, with a retention of 365 days: old closed on
// 2 January 2025, recent on 1 February 2026, open never.
var payloadExpectations = map[string][]string{
	// Fired on 1 March 2026: closed before 1 March 2025.
	"schedule.json": {"old"},
	// By hand: closed before 15 February 2026.
	"closed-before.json": {"old", "recent"},
}

const payloadRetentionDays = "365"

// seedPayloads writes the accounts the payloads are about, each closed at
// its time.
func seedPayloads(t *testing.T, backend eventstore.Backend) *eventstore.Store {
	t.Helper()
	clock := testclock.New(time.Date(2025, 1, 2, 9, 0, 0, 0, time.UTC), time.Minute)
	store := eventstore.New(backend, eventstore.WithClock(clock.Now))
	c := app.NewCommands(store, personal.NewVault(personal.NewMemoryKeys()), 0)
	run := func(id string, cmds ...account.Command) {
		for _, cmd := range append([]account.Command{account.Open{AccountID: id, Owner: "ann", Currency: "EUR"}}, cmds...) {
			if _, err := c.Execute(t.Context(), app.AccountCommand{Tenant: "demo", AccountID: id, Command: cmd}); err != nil {
				t.Fatalf("%s %T: %v", id, cmd, err)
			}
		}
	}
	run("old", account.Deposit{Amount: 7}, account.Withdraw{Amount: 7}, account.Close{})
	clock.Advance(time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC).Sub(clock.Now()))
	run("recent", account.Close{})
	run("open", account.Deposit{Amount: 7})
	return store
}

func checkPayload(t *testing.T, store *eventstore.Store, name string, sum archival.Summary) {
	t.Helper()
	want := payloadExpectations[name]
	var got []string
	for _, id := range []string{"old", "recent", "open"} {
		s, _ := app.AccountStream("demo", id)
		if _, ok, err := store.ArchiveOf(t.Context(), s); err != nil {
			t.Fatal(err)
		} else if ok {
			got = append(got, id)
		}
	}
	if !slices.Equal(got, want) || sum.Archived != len(want) || sum.Failed != 0 || sum.Stopped != "" {
		t.Errorf("%s archived %v (summary %+v), want %v", name, got, sum, want)
	}
}

func TestPayloadsThroughTheHandler(t *testing.T) {
	for name, raw := range lambdatest.Payloads(t, "archiver", payloadExpectations) {
		t.Run(name, func(t *testing.T) {
			var ev archival.Event
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			backend := eventstore.NewMemoryBackend()
			seedPayloads(t, backend)
			objects := eventstore.NewMemoryObjects("archive")
			store := eventstore.New(backend, eventstore.WithArchive(objects))
			h := &archival.Handler{Store: store, Objects: objects, Retention: 365 * 24 * time.Hour}
			sum, err := h.Handle(t.Context(), ev)
			if err != nil {
				t.Fatal(err)
			}
			checkPayload(t, store, name, sum)
		})
	}
}

// The built function, under the Lambda Runtime Interface Emulator, against
// moto: each payload on freshly seeded tables and a fresh bucket of the
// template's.
func TestPayloadsThroughTheBuiltFunction(t *testing.T) {
	bootstrap := lambdatest.Build(t, "ArchiverFunction")
	db := awstest.DynamoDB(t)
	for name, raw := range lambdatest.Payloads(t, "archiver", payloadExpectations) {
		t.Run(name, func(t *testing.T) {
			table := awstest.Table(t, db, "EventsTable")
			objects := awstest.ArchiveBucket(t, "archive")
			seedPayloads(t, dynamostore.New(db, table))
			fn := lambdatest.Start(t, bootstrap, map[string]string{
				"EVENTS_TABLE": table, "ARCHIVE_BUCKET": objects.Bucket(), "ARCHIVE_AFTER_DAYS": payloadRetentionDays,
			})
			sum := lambdatest.Call[archival.Summary](t, fn, raw)
			store := eventstore.New(dynamostore.New(db, table), eventstore.WithArchive(objects))
			checkPayload(t, store, name, sum)
			if !fn.LogsContain(`"msg":"archival run"`, 5*time.Second) {
				t.Errorf("the function logged no summary:\n%s", fn.Logs())
			}
			// What it archived reads as before, from the archive.
			s, _ := app.AccountStream("demo", "old")
			if p, err := store.Read(t.Context(), s, 1, 10); err != nil || len(p.Events) != 4 {
				t.Errorf("the archived account reads %d events, %v", len(p.Events), err)
			}
		})
	}
}
