package archival_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/testclock"
	"annals/internal/kit/testlog"
	"annals/internal/ledger/archival"
)

func (w *world) handler(retention time.Duration, now func() time.Time) (*archival.Handler, *testlog.Buffer) {
	logs := &testlog.Buffer{}
	return &archival.Handler{Store: w.store, Objects: w.objects, Retention: retention, Margin: time.Minute, Now: now,
		Log: slog.New(slog.NewJSONHandler(logs, nil))}, logs
}

// A run stops a margin before its invocation's deadline and keeps its
// place in the bucket; the next goes on from there; the run that reaches
// the end of the table leaves the place at the beginning again.
func TestScheduledRunsGoThroughTheTable(t *testing.T) {
	w := newWorld(t)
	for i := range 7 {
		w.account(fmt.Sprint("old-", i), false)
	}
	cut := w.clock.Now()
	start := time.Now().Add(time.Hour)
	clock := testclock.New(start, time.Minute)
	h, logs := w.handler(0, clock.Now)
	h.Every = 30 * 24 * time.Hour
	ev := archival.Event{ClosedBefore: cut.Format(time.RFC3339Nano)}
	archived := 0
	for runs := 1; ; runs++ {
		// Each invocation may run for four of the handler's minutes, of
		// which the last is its margin.
		ctx, cancel := context.WithDeadline(t.Context(), clock.Now().Add(4*time.Minute))
		sum, err := h.Handle(ctx, ev)
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v", runs, err)
		}
		archived += sum.Archived
		if sum.Resumed != (runs > 1) || !sum.ClosedBefore.Equal(cut) {
			t.Errorf("run %d = %+v", runs, sum)
		}
		if sum.Stopped == "" {
			break
		}
		if sum.Stopped != "time" || sum.Archived > 3 || runs > 10 {
			t.Fatalf("run %d = %+v; want it stopped by its time, with at most 3 accounts", runs, sum)
		}
		pos, err := w.objects.Get(t.Context(), archival.PositionKey)
		if err != nil || !strings.Contains(string(pos), `"cursor":"{`) {
			t.Fatalf("after run %d the position is %s, %v", runs, pos, err)
		}
	}
	if archived != 7 {
		t.Errorf("the runs archived %d accounts, want 7", archived)
	}
	pos, err := w.objects.Get(t.Context(), archival.PositionKey)
	if err != nil || !strings.Contains(string(pos), `"cursor":null`) {
		t.Errorf("after the table's end the position is %s, %v; want none", pos, err)
	}
	// The next pass is not due for thirty days: a scheduled run reads its
	// position and nothing else. One asked for by hand runs all the same.
	w.account("later", false)
	sum, err := h.Handle(t.Context(), archival.Event{Time: clock.Now().Format(time.RFC3339)})
	if err != nil || !sum.Idle || sum.Scanned != 0 || sum.NextPass.IsZero() {
		t.Fatalf("a scheduled run before the next pass = %+v, %v; want it idle", sum, err)
	}
	sum, err = h.Handle(t.Context(), archival.Event{ClosedBefore: w.clock.Now().Format(time.RFC3339Nano)})
	if err != nil || sum.Idle || sum.Archived != 1 {
		t.Fatalf("a run by hand = %+v, %v; want the account closed since archived", sum, err)
	}
	clock.Advance(31 * 24 * time.Hour)
	sum, err = h.Handle(t.Context(), archival.Event{Time: clock.Now().Format(time.RFC3339)})
	if err != nil || sum.Idle || sum.Scanned == 0 {
		t.Fatalf("a scheduled run once the pass is due = %+v, %v; want a pass", sum, err)
	}
	for _, want := range []string{`"msg":"account archived"`, `"msg":"archival run"`, `"passComplete":true`, `"msg":"archival idle"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the logs lack %s:\n%s", want, logs.String())
		}
	}
}

// The retention counts back from the schedule's time, or from now; a time
// that does not read is refused before anything is read; a position that
// does not read is a scan from the beginning.
func TestScheduledRunTimes(t *testing.T) {
	w := newWorld(t)
	s := w.account("old", false)
	closed := w.clock.Now()
	h, _ := w.handler(24*time.Hour, func() time.Time { return closed.Add(12 * time.Hour) })
	// Not a day after its close: kept.
	sum, err := h.Handle(t.Context(), archival.Event{})
	if err != nil || sum.Archived != 0 || !sum.ClosedBefore.Equal(closed.Add(-12*time.Hour)) {
		t.Fatalf("run now = %+v, %v", sum, err)
	}
	if err := w.objects.Put(t.Context(), archival.PositionKey, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	// The schedule fired two days after: archived.
	sum, err = h.Handle(t.Context(), archival.Event{Time: closed.Add(48 * time.Hour).Format(time.RFC3339)})
	if err != nil || sum.Archived != 1 || sum.Resumed || !w.archived(s) {
		t.Fatalf("run two days after = %+v, %v", sum, err)
	}
	for _, ev := range []archival.Event{{ClosedBefore: "yesterday"}, {Time: "noon"}} {
		if _, err := h.Handle(t.Context(), ev); err == nil {
			t.Errorf("%+v: no error", ev)
		}
	}
	b, _ := json.Marshal(archival.Summary{})
	if !strings.Contains(string(b), `"archived":0`) {
		t.Errorf("summary %s", b)
	}
}
