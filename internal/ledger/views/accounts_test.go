package views_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/ledger/account"
	"annals/internal/ledger/views"
)

func TestNextVersionIsApplied(t *testing.T) {
	f := newFixture(t)
	a := newAccount(t, "a1")
	c1 := a.open(t, f.events, "alice")
	c2 := a.deposit(t, f.events, 700)

	if failed := f.handle(t, batch(record(t, 1, c1), record(t, 2, c2))); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	checkFolded(t, f.view, f.events, a.stream)
	checkHistory(t, f.history, f.events, a.stream)
	if row := f.row(t, a); row.State.Balance != 700 || row.Version != 2 || row.State.Owner != "alice" {
		t.Errorf("row %+v", row)
	}
	if n := f.view.writes("a1"); n != 1 {
		t.Errorf("%d writes, want one for the stream's two commits in one batch", n)
	}
	c3 := a.deposit(t, f.events, 1)
	if failed := f.handle(t, batch(record(t, 3, c3))); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	if n := f.view.writes("a1"); n != 2 {
		t.Errorf("%d writes after a second batch, want 2", n)
	}
	checkFolded(t, f.view, f.events, a.stream)
}

func TestDuplicatesAreSkipped(t *testing.T) {
	f := newFixture(t)
	a := newAccount(t, "a1")
	c1 := a.open(t, f.events, "alice")
	c2 := a.deposit(t, f.events, 5)
	f.handle(t, batch(record(t, 1, c1), record(t, 2, c2)))

	failed := f.handle(t, batch(record(t, 1, c1), record(t, 2, c2), record(t, 1, c1)))
	if len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	if n := f.view.writes("a1"); n != 1 {
		t.Errorf("%d writes, want the duplicates skipped without a write", n)
	}
	checkFolded(t, f.view, f.events, a.stream)
	checkHistory(t, f.history, f.events, a.stream)
}

// A commit beyond the next version is not held back: the missing versions
// are read from the events table and applied first, in the same write.
func TestGapIsFilledFromTheEventsTable(t *testing.T) {
	f := newFixture(t)
	a := newAccount(t, "a1")
	c1 := a.open(t, f.events, "alice")
	a.deposit(t, f.events, 100)
	a.withdraw(t, f.events, 30)
	c4 := a.deposit(t, f.events, 5)
	f.handle(t, batch(record(t, 1, c1)))

	if failed := f.handle(t, batch(record(t, 4, c4))); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	checkFolded(t, f.view, f.events, a.stream)
	checkHistory(t, f.history, f.events, a.stream)
	if row := f.row(t, a); row.Version != 4 || row.State.Balance != 75 {
		t.Errorf("row %+v, want version 4, balance 75", row)
	}
	if n := f.view.writes("a1"); n != 2 {
		t.Errorf("%d writes, want the gap and the commit in one", n)
	}
}

func TestUnusedEventTypeAdvancesThePosition(t *testing.T) {
	f := newFixture(t)
	a := newAccount(t, "a1")
	c1 := a.open(t, f.events, "alice")
	c2 := a.raw(t, f.events, eventstore.NewEvent{Type: "NicknameChosen", SchemaVersion: 1, Data: json.RawMessage(`{"nickname":"rainy day"}`)})
	f.handle(t, batch(record(t, 1, c1), record(t, 2, c2)))

	row := f.row(t, a)
	if row.Version != 2 || row.Quarantine != nil || !row.UpdatedAt.Equal(c2.Events[0].RecordedAt) {
		t.Errorf("row %+v, want version 2 and no quarantine", row)
	}
	checkFolded(t, f.view, f.events, a.stream)
	checkHistory(t, f.history, f.events, a.stream)
}

// An event that does not decode stops its stream only: the events before
// it are applied, the stream is quarantined at it, the event is in the
// dead-letter queue, and the batch reports no failure.
func TestPoisonQuarantinesOnlyItsStream(t *testing.T) {
	f := newFixture(t)
	a, b := newAccount(t, "a1"), newAccount(t, "b1")
	a1 := a.open(t, f.events, "alice")
	bad := a.raw(t, f.events,
		eventstore.NewEvent{Type: account.TypeMoneyDeposited, SchemaVersion: 1, Data: json.RawMessage(`{"amount":3,"balanceAfter":3}`)},
		eventstore.NewEvent{Type: account.TypeMoneyDeposited, SchemaVersion: 1, Data: json.RawMessage(`{"amount":5}`)})
	b1 := b.open(t, f.events, "bob")
	b2 := b.deposit(t, f.events, 9)

	if failed := f.handle(t, batch(record(t, 1, a1), record(t, 2, bad), record(t, 3, b1), record(t, 4, b2))); len(failed) != 0 {
		t.Fatalf("failures %v, want poison handled, not retried", failed)
	}
	row := f.row(t, a)
	if row.Quarantine == nil || row.Quarantine.At != 3 || !strings.Contains(row.Quarantine.Reason, "balanceAfter") {
		t.Fatalf("row %+v quarantine %+v, want quarantined at 3 for the missing balanceAfter", row, row.Quarantine)
	}
	if row.Version != 2 || row.State.Balance != 3 {
		t.Errorf("row %+v, want version 2 (the event before the poison) and balance 3", row)
	}
	checkFolded(t, f.view, f.events, b.stream)
	checkHistory(t, f.history, f.events, b.stream)

	// The history stops at the same place, with what came before the poison.
	pos, _, err := f.history.Position(t.Context(), tenant, "a1")
	if err != nil || pos.Version != 2 || pos.Quarantine == nil || pos.Quarantine.At != 3 {
		t.Errorf("history position %+v (%v), want 2, quarantined at 3", pos, err)
	}
	if h, err := f.history.Transactions(t.Context(), tenant, "a1", 0, 10); err != nil || len(h) != 1 || h[0].Version != 2 || h[0].Amount != 3 {
		t.Errorf("history %+v (%v), want the deposit of 3 at version 2", h, err)
	}

	// One letter per view: each view quarantines, and is redriven, alone.
	letters := f.sqs.Letters()
	if len(letters) != 2 {
		t.Fatalf("%d dead letters, want one per view", len(letters))
	}
	for i, view := range []string{"accounts", "history"} {
		l := letters[i]
		if l.View != view || l.Stream != a.stream.Key() || l.Version != 3 || !strings.Contains(l.Reason, "balanceAfter") {
			t.Errorf("dead letter %+v, want the %s view's", l, view)
		}
		evs, err := envelope.Decode(l.Event)
		if err != nil || len(evs) != 1 || evs[0].ID != bad.Events[1].ID || string(evs[0].Data) != `{"amount":5}` {
			t.Errorf("dead letter event %s (%v), want the poison event's envelope", l.Event, err)
		}
	}

	// Later events of the quarantined stream are skipped until a redrive.
	a3 := a.deposit(t, f.events, 1)
	if failed := f.handle(t, batch(record(t, 5, a3))); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	if again := f.row(t, a); again.Version != 2 || again.Quarantine == nil {
		t.Errorf("quarantined stream moved: %+v", again)
	}
	if len(f.sqs.Letters()) != 2 {
		t.Error("a skipped event of a quarantined stream was dead-lettered")
	}
}

// A poison event found while filling a gap quarantines the stream too.
func TestPoisonInTheGapQuarantines(t *testing.T) {
	f := newFixture(t)
	a := newAccount(t, "a1")
	a.open(t, f.events, "alice")
	a.raw(t, f.events, eventstore.NewEvent{Type: account.TypeMoneyWithdrawn, SchemaVersion: 1, Data: json.RawMessage(`[]`)})
	c3 := a.deposit(t, f.events, 1)

	if failed := f.handle(t, batch(record(t, 3, c3))); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	row := f.row(t, a)
	if row.Quarantine == nil || row.Quarantine.At != 2 || row.Version != 1 || row.State.Status != account.StatusOpen {
		t.Errorf("row %+v quarantine %+v, want version 1 applied, quarantined at 2", row, row.Quarantine)
	}
	if l := f.sqs.Letters(); len(l) != 2 || l[0].Version != 2 || l[1].Version != 2 {
		t.Errorf("dead letters %+v, want version 2 in each view", l)
	}
}

// A record that names versions the events table does not hold is poison:
// waiting cannot fill that gap.
func TestUnfillableGapQuarantines(t *testing.T) {
	f := newFixture(t)
	a := newAccount(t, "a1")
	other := newEvents() // where the record's commit really lives
	a.open(t, other, "alice")
	c2 := a.deposit(t, other, 3)

	f.handle(t, batch(record(t, 1, c2)))
	row := f.row(t, a)
	if row.Quarantine == nil || row.Quarantine.At != 1 || row.Version != 0 {
		t.Errorf("row %+v quarantine %+v, want quarantined at 1", row, row.Quarantine)
	}
	if l := f.sqs.Letters(); len(l) != 2 || l[0].Version != 1 || l[0].Event != nil || l[1].Version != 1 || l[1].Event != nil {
		t.Errorf("dead letters %+v, want version 1 without an event in each view", l)
	}
}

// A failure worth a retry is reported by sequence number; later records of
// the same partition key wait for the retry, other keys flow.
func TestInfrastructureErrorHoldsOnlyItsKey(t *testing.T) {
	f := newFixture(t)
	a, b := newAccount(t, "a1"), newAccount(t, "b1")
	a1, a2 := a.open(t, f.events, "alice"), a.deposit(t, f.events, 1)
	b1, b2 := b.open(t, f.events, "bob"), b.deposit(t, f.events, 2)
	throttled := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down"}
	f.view.fail = func(r views.AccountRow) error {
		if r.AccountID == "a1" {
			return throttled
		}
		return nil
	}
	ra1 := record(t, 1, a1)
	failed := f.handle(t, batch(ra1, record(t, 2, b1), record(t, 3, a2), record(t, 4, b2)))
	if !slices.Equal(failed, []string{ra1.Kinesis.SequenceNumber}) {
		t.Fatalf("failures %v, want the first record of a1 only", failed)
	}
	if n := f.view.writes("a1"); n != 1 {
		t.Errorf("%d writes for a1, want 1: its later record must wait", n)
	}
	checkFolded(t, f.view, f.events, b.stream)
	checkHistory(t, f.history, f.events, b.stream)
	if _, found, _ := f.view.Account(t.Context(), tenant, "a1"); found {
		t.Error("a1 was written despite the failure")
	}
	if len(f.sqs.Letters()) != 0 {
		t.Error("a throttled write was dead-lettered")
	}

	// The mapping resends from the reported record; everything converges.
	f.view.fail = nil
	if failed := f.handle(t, batch(ra1, record(t, 2, b1), record(t, 3, a2), record(t, 4, b2))); len(failed) != 0 {
		t.Fatalf("failures %v on the retry", failed)
	}
	checkFolded(t, f.view, f.events, a.stream)
	checkHistory(t, f.history, f.events, a.stream)
	checkFolded(t, f.view, f.events, b.stream)
	checkHistory(t, f.history, f.events, b.stream)
}

// A dead-letter queue that cannot be reached is an infrastructure error:
// the poison is retried, not quarantined without its letter.
func TestUnreachableDeadLetterQueueRetries(t *testing.T) {
	f := newFixture(t)
	a := newAccount(t, "a1")
	bad := a.raw(t, f.events, eventstore.NewEvent{Type: account.TypeAccountOpened, SchemaVersion: 1, Data: json.RawMessage(`{}`)})
	f.sqs.Next = unreachable{errors.New("connection refused")}
	r := record(t, 1, bad)
	if failed := f.handle(t, batch(r)); !slices.Equal(failed, []string{r.Kinesis.SequenceNumber}) {
		t.Fatalf("failures %v, want the poison record retried", failed)
	}
	if _, found, _ := f.view.Account(t.Context(), tenant, "a1"); found {
		t.Error("quarantined without a dead letter")
	}
}

// DynamoDB refusing the row itself (ValidationException) is poison.
func TestRefusedRowIsPoison(t *testing.T) {
	f := newFixture(t)
	a := newAccount(t, "a1")
	c1 := a.open(t, f.events, "alice")
	f.view.fail = func(r views.AccountRow) error {
		if r.Quarantine == nil {
			return &smithy.GenericAPIError{Code: "ValidationException", Message: "Item size has exceeded the maximum allowed size"}
		}
		return nil
	}
	if failed := f.handle(t, batch(record(t, 1, c1))); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	row := f.row(t, a)
	if row.Quarantine == nil || row.Quarantine.At != 1 || row.Version != 0 || !strings.Contains(row.Quarantine.Reason, "maximum allowed size") {
		t.Errorf("row %+v quarantine %+v", row, row.Quarantine)
	}
}

// Another projector instance moving the position between the read and the
// write makes the write fail its condition; the commit is judged again.
func TestConcurrentWriterIsReJudged(t *testing.T) {
	f := newFixture(t)
	a := newAccount(t, "a1")
	c1 := a.open(t, f.events, "alice")
	c2 := a.deposit(t, f.events, 4)
	f.handle(t, batch(record(t, 1, c1)))
	raced := false
	f.view.before = func(r views.AccountRow) {
		if raced {
			return
		}
		raced = true
		// The other instance applies the same commit first.
		other := views.NewAccounts(f.view.AccountStore, f.events, projection.NewDeadLetters(f.sqs), nil)
		if err := other.Apply(t.Context(), c2.Events); err != nil {
			t.Error(err)
		}
	}
	if failed := f.handle(t, batch(record(t, 2, c2))); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	checkFolded(t, f.view, f.events, a.stream)
	checkHistory(t, f.history, f.events, a.stream)
}

// An envelope that does not decode is dead-lettered with its raw data and
// quarantines the stream its partition key names; a partition key that
// names no stream quarantines nothing.
func TestUndecodableEnvelope(t *testing.T) {
	f := newFixture(t)
	a, b := newAccount(t, "a1"), newAccount(t, "b1")
	a1 := a.open(t, f.events, "alice")
	b1 := b.open(t, f.events, "bob")
	f.handle(t, batch(record(t, 1, a1)))

	garbage := []byte(`{"not":"an envelope"}`)
	failed := f.handle(t, batch(rawRecord(2, a.stream.Key(), garbage), rawRecord(3, "no-stream-here", garbage), record(t, 4, b1)))
	if len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	row := f.row(t, a)
	if row.Quarantine == nil || row.Quarantine.At != 2 || row.Version != 1 {
		t.Errorf("row %+v quarantine %+v, want quarantined at its next version, 2", row, row.Quarantine)
	}
	checkFolded(t, f.view, f.events, b.stream)
	checkHistory(t, f.history, f.events, b.stream)
	letters := f.sqs.Letters()
	if len(letters) != 2 || letters[0].Stream != a.stream.Key() || string(letters[0].Record) != string(garbage) ||
		letters[1].Stream != "" || letters[1].PartitionKey != "no-stream-here" {
		t.Errorf("dead letters %+v", letters)
	}
	if !f.logs.Contains("names no stream") {
		t.Errorf("no log of the unquarantinable record:\n%s", f.logs)
	}
}

// Streams of other categories are not the account view's.
func TestOtherCategoriesAreIgnored(t *testing.T) {
	f := newFixture(t)
	s, _ := eventstore.NewStreamID(tenant, "transfer", "t1")
	c, err := f.events.Append(t.Context(), eventstore.NewStream(s),
		[]eventstore.NewEvent{{Type: "TransferRequested", SchemaVersion: 1, Data: json.RawMessage(`{}`)}}, eventstore.Metadata{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if failed := f.handle(t, batch(record(t, 1, c))); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	if _, found, _ := f.view.Account(t.Context(), tenant, "t1"); found {
		t.Error("a transfer stream landed in the account view")
	}
}

// A record too big to carry in a dead letter still dead-letters and
// quarantines its stream: the letter leaves the record out and says so,
// instead of being refused by SQS and retried until the batch is lost.
func TestHugeUndecodableRecordFitsItsLetter(t *testing.T) {
	f := newFixture(t)
	a := newAccount(t, "a1")
	garbage := []byte(`"` + strings.Repeat("x", 900<<10) + `"`)
	if failed := f.handle(t, batch(rawRecord(1, a.stream.Key(), garbage))); len(failed) != 0 {
		t.Fatalf("failures %v", failed)
	}
	letters := f.sqs.Letters()
	if len(letters) != 1 || letters[0].Record != nil || !strings.Contains(letters[0].Omitted, "record") ||
		letters[0].Stream != a.stream.Key() || letters[0].SequenceNumber == "" {
		t.Fatalf("dead letters %+v, want one naming the stream and sequence number, without the record", letters)
	}
	if row := f.row(t, a); row.Quarantine == nil {
		t.Errorf("a1 not quarantined: %+v", row)
	}
}
