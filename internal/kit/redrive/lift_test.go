package redrive_test

import (
	"log/slog"
	"strings"
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/redrive"
)

// A lift goes to the views that keep the stream's kind of stream: a shelf
// quarantined in the labels view heals there, the notebook views are not
// asked, and a lift no view given can take is an error.
func TestLiftGoesToTheViewsThatHoldTheStream(t *testing.T) {
	ctx := t.Context()
	store := eventstore.New(eventstore.NewMemoryBackend())
	box := &projection.LetterBox{}
	v := newTables().views(store, projection.NewDeadLetters(box), slog.New(slog.DiscardHandler))

	s := notebooktest.StreamID(t, notebooktest.Shelf, "sh1")
	notebooktest.NewWriter(s).Write(t, store, notebooktest.Note("top shelf"))
	// Its record arrived unreadable: the stream is quarantined before
	// version 1.
	if err := v.labels.Quarantine(ctx, s, "envelope does not decode"); err != nil {
		t.Fatal(err)
	}
	if pos, _ := v.labels.Status(ctx, s); pos.Quarantine == nil {
		t.Fatalf("not quarantined: %+v", pos)
	}

	lifted, err := redrive.Lift(ctx, s, v.notes, v.count, v.labels)
	if err != nil || len(lifted) != 1 || lifted[0].View != "labels" || !lifted[0].Healed() || lifted[0].Position.Version != 1 {
		t.Errorf("lift = %+v, %v; want the labels view alone, healed at version 1", lifted, err)
	}
	if got := lifted[0].String(); got != "labels: healed, at version 1" {
		t.Errorf("lifted reads %q", got)
	}
	if _, err := redrive.Lift(ctx, s, v.notes, v.count); err == nil || !strings.Contains(err.Error(), `"shelf" streams`) {
		t.Errorf("lift of a shelf in the notebook views only: %v, want an error naming the kind of stream", err)
	}
	if n := len(box.Letters()); n != 0 {
		t.Errorf("%d dead letters for a stream that healed", n)
	}
}
