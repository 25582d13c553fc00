package main

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/personal"
	"annals/internal/kit/projection"
	"annals/internal/kit/testclock"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// archive moves the accounts closed before a time, and only those, to the
// bucket; they read as before; restore brings one back.
func TestArchiveCommand(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := awstest.DynamoDB(t)
	table, objects := awstest.Table(t, db, "EventsTable"), awstest.ArchiveBucket(t, "archive")
	bucket := objects.Bucket()
	clock := testclock.New(testclock.Start, time.Minute)
	store := eventstore.New(dynamostore.New(db, table), eventstore.WithClock(clock.Now), eventstore.WithArchive(objects))
	c := app.NewCommands(store, personal.NewVault(personal.NewMemoryKeys()), 0)
	run := func(id string, cmds ...account.Command) {
		t.Helper()
		for _, cmd := range cmds {
			if _, err := c.Execute(ctx, app.AccountCommand{Tenant: "acme", AccountID: id, Command: cmd}); err != nil {
				t.Fatalf("%s %T: %v", id, cmd, err)
			}
		}
	}
	open := func(id string) account.Command { return account.Open{AccountID: id, Owner: "ann", Currency: "EUR"} }
	// Closed early, twice; open; closed after the cut.
	run("old-1", open("old-1"), account.Deposit{Amount: 5}, account.Withdraw{Amount: 5}, account.Close{})
	run("old-2", open("old-2"), account.Close{})
	run("open", open("open"), account.Deposit{Amount: 7})
	cut := clock.Now()
	run("late", open("late"), account.Close{})

	stream := func(id string) eventstore.StreamID { s, _ := app.AccountStream("acme", id); return s }
	reads := func(id string) string {
		p, err := store.Read(ctx, stream(id), 1, 100)
		if err != nil {
			t.Fatalf("read %s: %v", id, err)
		}
		b, _ := json.Marshal(p)
		return string(b)
	}
	before := map[string]string{}
	for _, id := range []string{"old-1", "old-2", "open", "late"} {
		before[id] = reads(id)
	}
	env := map[string]string{"EVENTS_TABLE": table, "ARCHIVE_BUCKET": bucket}

	// A run bounded to one account, then the rest.
	stdout, stderr := runOK(t, env, "archive", "--closed-before", cut.Format(time.RFC3339Nano), "--max", "1")
	if strings.Count(stdout, "s3://"+bucket+"/") != 1 {
		t.Errorf("--max 1 archived other than one account:\n%s", stdout)
	}
	checkContains(t, "the progress line", stderr, "archive: ", "items scanned", "1 archived")
	stdout, _ = runOK(t, env, "archive", "--closed-before", cut.Format(time.RFC3339Nano))
	if strings.Count(stdout, "s3://") != 1 {
		t.Errorf("the second run archived other than the one account left:\n%s", stdout)
	}
	for id, want := range map[string]bool{"old-1": true, "old-2": true, "open": false, "late": false} {
		if _, ok, err := store.ArchiveOf(ctx, stream(id)); ok != want || err != nil {
			t.Errorf("%s archived: %v (%v), want %v", id, ok, err, want)
		}
		if got := reads(id); got != before[id] {
			t.Errorf("%s reads\n%s\nwant\n%s", id, got, before[id])
		}
	}
	// stream show reads an archived account from the bucket.
	stdout, _ = runOK(t, env, "stream", "show", stream("old-2").Key())
	checkContains(t, "stream show of an archived account", stdout, "2 event(s) to its head", "AccountClosed", `"status": "closed"`)
	// Nothing is left to do.
	stdout, _ = runOK(t, env, "archive", "--closed-before", cut.Format(time.RFC3339Nano))
	if strings.Contains(stdout, "s3://") {
		t.Errorf("a third run archived again:\n%s", stdout)
	}

	stdout, _ = runOK(t, env, "archive", "restore", stream("old-1").Key())
	checkContains(t, "restore", stdout, "acme#account#old-1 restored")
	if _, ok, _ := store.ArchiveOf(ctx, stream("old-1")); ok {
		t.Error("old-1 is still archived after its restore")
	}
	if got := reads("old-1"); got != before["old-1"] {
		t.Errorf("restored old-1 reads\n%s\nwant\n%s", got, before["old-1"])
	}
	stdout, _ = runOK(t, env, "archive", "restore", stream("open").Key())
	checkContains(t, "restore of an account not archived", stdout, "not archived")

	if code, _, stderr := runCLI(t, map[string]string{"EVENTS_TABLE": table}, "archive", "--closed-before", cut.Format(time.RFC3339)); code != exitUsage || !strings.Contains(stderr, "bucket") {
		t.Errorf("archive without a bucket: exit %d, %s; want a usage error naming it", code, stderr)
	}
}

// A rebuild of a view after accounts were archived reads them from the
// bucket and gives the live view back; without the bucket it stops and
// says so, rather than drop them.
func TestRebuildWithArchivedAccounts(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := awstest.DynamoDB(t)
	eventsTable, live := awstest.Table(t, db, "EventsTable"), awstest.Table(t, db, "HistoryTable")
	objects := awstest.ArchiveBucket(t, "archive")
	store := eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithArchive(objects))
	c := app.NewCommands(store, personal.NewVault(personal.NewMemoryKeys()), 0)
	spec, _ := views.Named("history")
	view := spec.New(db, live, store, projection.NewDeadLetters(&projection.LetterBox{}), slog.New(slog.DiscardHandler))
	for _, id := range []string{"kept", "gone-1", "gone-2"} {
		cmds := []account.Command{account.Open{AccountID: id, Owner: "ann", Currency: "EUR"}, account.Deposit{Amount: 9}}
		if id != "kept" {
			cmds = append(cmds, account.Withdraw{Amount: 9}, account.Close{})
		}
		for _, cmd := range cmds {
			if _, err := c.Execute(ctx, app.AccountCommand{Tenant: "acme", AccountID: id, Command: cmd}); err != nil {
				t.Fatal(err)
			}
		}
		s, _ := app.AccountStream("acme", id)
		p, err := store.Read(ctx, s, 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := view.Apply(ctx, p.Events); err != nil {
			t.Fatal(err)
		}
		if id != "kept" {
			if _, err := store.Archive(ctx, s, objects); err != nil {
				t.Fatal(err)
			}
		}
	}
	env := map[string]string{"EVENTS_TABLE": eventsTable, "HISTORY_TABLE": live}
	code, _, stderr := runCLI(t, env, "rebuild", "history", "--table", freshName(t, db), "--verify")
	if code != exitFailed || !strings.Contains(stderr, "--bucket or ARCHIVE_BUCKET") {
		t.Errorf("rebuild without the bucket: exit %d, %s; want a failure naming the bucket", code, stderr)
	}
	env["ARCHIVE_BUCKET"] = objects.Bucket()
	stdout, _ := runOK(t, env, "rebuild", "history", "--table", freshName(t, db), "--verify")
	checkContains(t, "the rebuild's summary", stdout, "streams      3\n", "3 stream(s), 3 equal, 0 lagging, 0 different")
}
