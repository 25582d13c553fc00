package archival_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/personal"
	"annals/internal/kit/testclock"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// itemOverhead is what DynamoDB adds to every item's size for its storage
// (its pricing page: 100 bytes of overhead per item). S3 Standard bills an
// object's bytes alone.
const itemOverhead = 100

// storage is what one account takes, in bytes billed.
type storage struct {
	events      int
	table       int // its commits and snapshots, before archival
	archived    int // its marker and placeholders, after
	object      int // its archive
	items, left int // items before and after
}

// accountStorage writes an account as the command API would (UUIDv7 ids,
// a correlation id, a command id and an actor of a token's length; K =
// 10): opened, movements-many deposits and withdrawals with a reference,
// a channel and a counterparty, closed. It returns what it takes before
// and after archival.
func accountStorage(tb testing.TB, movements int) storage {
	tb.Helper()
	ctx := context.Background()
	backend := eventstore.NewMemoryBackend()
	objects := eventstore.NewMemoryObjects("archive")
	clock := testclock.New(time.Date(2025, 1, 2, 9, 0, 0, 0, time.UTC), 37*time.Minute)
	store := eventstore.New(backend, eventstore.WithClock(clock.Now), eventstore.WithArchive(objects))
	c := app.NewCommands(store, personal.NewVault(personal.NewMemoryKeys()), 0)
	id := uuid.Must(uuid.NewV7()).String()
	actor := uuid.New().String() // a Cognito sub
	cmds := []account.Command{account.Open{AccountID: id, Owner: "Ada Lovelace", Currency: "EUR", OverdraftLimit: 10000}}
	for i := range movements {
		if i%2 == 0 {
			cmds = append(cmds, account.Deposit{Amount: 2500 + int64(i), Reference: fmt.Sprintf("invoice 2025-%04d", i), Channel: account.ChannelCard, Counterparty: "ACME Supplies Ltd"})
		} else {
			cmds = append(cmds, account.Withdraw{Amount: 2500 + int64(i-1), Reference: fmt.Sprintf("rent %04d", i), Channel: account.ChannelCash, Counterparty: "Landlord"})
		}
	}
	cmds = append(cmds, account.Close{})
	for _, cmd := range cmds {
		cmdID := uuid.Must(uuid.NewV7()).String()
		meta := eventstore.Metadata{CommandID: cmdID, CorrelationID: uuid.Must(uuid.NewV7()).String(), CausationID: cmdID, Actor: actor}
		if _, err := c.Execute(ctx, app.AccountCommand{Tenant: "acme", AccountID: id, Command: cmd, Meta: meta}); err != nil {
			tb.Fatalf("%T: %v", cmd, err)
		}
	}
	stream, _ := app.AccountStream("acme", id)
	var st storage
	st.events = len(cmds)
	st.table, st.items = partitionBytes(tb, backend, stream)
	a, err := store.Archive(ctx, stream, objects)
	if err != nil {
		tb.Fatal(err)
	}
	st.archived, st.left = partitionBytes(tb, backend, stream)
	obj, err := objects.Get(ctx, a.Key)
	if err != nil {
		tb.Fatal(err)
	}
	st.object = len(obj)
	return st
}

// partitionBytes is the storage DynamoDB bills for a stream's items: the
// stream's partition and its snapshots'.
func partitionBytes(tb testing.TB, b *eventstore.MemoryBackend, stream eventstore.StreamID) (bytes, items int) {
	tb.Helper()
	for _, pk := range []string{stream.Key(), "snapshot#" + stream.Key()} {
		q := eventstore.Query{PK: pk, Consistent: true}
		for {
			p, err := b.Query(context.Background(), q)
			if err != nil {
				tb.Fatal(err)
			}
			for _, it := range p.Items {
				bytes += eventstore.ItemSize(it) + itemOverhead
				items++
			}
			if p.Next == nil {
				break
			}
			q.Start = p.Next
		}
	}
	return bytes, items
}

// BenchmarkStorage measures what an account's history takes in the events
// table before archival, what is left of it there after, and its archive
// object, per event, for a short account and a long one
// (docs/operations.md, "Storage with and without archival").
func BenchmarkStorage(b *testing.B) {
	for _, movements := range []int{2, 98, 998} {
		b.Run(fmt.Sprintf("events=%d", movements+2), func(b *testing.B) {
			var st storage
			for b.Loop() {
				st = accountStorage(b, movements)
			}
			n := float64(st.events)
			b.ReportMetric(float64(st.table)/n, "table-B/event")
			b.ReportMetric(float64(st.archived)/n, "archived-table-B/event")
			b.ReportMetric(float64(st.object)/n, "object-B/event")
			b.ReportMetric(float64(st.items), "items")
			b.ReportMetric(float64(st.left), "items-left")
		})
	}
}

// What archival leaves in the table is under a quarter of what the
// history took, and the archive is about the size of the items it
// replaces (its JSON names its fields in full, the items' attributes are
// short but each pays DynamoDB's overhead): the saving is S3's price.
func TestArchivalShrinksTheTable(t *testing.T) {
	st := accountStorage(t, 98)
	// One commit per command: a placeholder each, and the marker.
	if st.left != st.events+1 {
		t.Errorf("%d items left for %d commits, want a placeholder each and the marker", st.left, st.events)
	}
	if st.archived*4 > st.table {
		t.Errorf("archival leaves %d of %d bytes in the table, more than a quarter", st.archived, st.table)
	}
	if st.object*4 > st.table*5 {
		t.Errorf("the archive is %d bytes, the items it replaces %d: a quarter more", st.object, st.table)
	}
}
