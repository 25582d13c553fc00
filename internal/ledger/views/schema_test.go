package views_test

import (
	"encoding/json"
	"strings"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// An event at a schema version newer than this code reads (a newer
// deployment wrote it) is poison to the projector: the stream is
// quarantined in every view, with its dead letter, at that event; what
// came before it is applied, and nothing after it is guessed at. The
// version-1 deposit before it is read lifted to the current shape.
func TestProjectorQuarantinesEventsFromANewerDeployment(t *testing.T) {
	f := newFixture(t)
	a := newAccount(t, "a1")
	a1 := a.open(t, f.events, "alice")
	current, _ := app.Schemas.Current(account.TypeMoneyDeposited)
	c2 := a.raw(t, f.events,
		eventstore.NewEvent{Type: account.TypeMoneyDeposited, SchemaVersion: 1, Data: json.RawMessage(`{"amount":3,"reference":"old","balanceAfter":3}`)},
		eventstore.NewEvent{Type: account.TypeMoneyDeposited, SchemaVersion: current + 1, Data: json.RawMessage(`{"amount":5,"channel":"cash","balanceAfter":8,"fx":{"rate":"1.1"}}`)})
	if failed := f.handle(t, batch(record(t, 1, a1), record(t, 2, c2))); len(failed) != 0 {
		t.Fatalf("failures %v, want the newer event quarantined, not retried", failed)
	}
	row := f.row(t, a)
	if row.Quarantine == nil || row.Quarantine.At != 3 || !strings.Contains(row.Quarantine.Reason, "schema version") {
		t.Fatalf("row %+v quarantine %+v, want quarantined at 3 for the schema version", row, row.Quarantine)
	}
	if row.Version != 2 || row.State.Balance != 3 {
		t.Errorf("row %+v, want version 2 (the lifted version-1 deposit) and balance 3", row)
	}
	pos, _, err := f.history.Position(t.Context(), tenant, "a1")
	if err != nil || pos.Version != 2 || pos.Quarantine == nil || pos.Quarantine.At != 3 {
		t.Errorf("history position %+v (%v), want 2, quarantined at 3", pos, err)
	}
	if l := f.sqs.Letters(); len(l) != 2 || l[0].Version != 3 || l[1].Version != 3 {
		t.Errorf("dead letters %+v, want version 3 in each view", l)
	}
}
