package archival

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"annals/internal/kit/eventstore"
)

// Event starts a scheduled run. EventBridge's scheduled event carries the
// time its schedule fired, from which the run counts the retention back;
// an operator's event may name the time accounts must have closed before
// instead (aws lambda invoke --payload '{"closedBefore":"..."}'), which
// also runs whether a pass is due or not.
type Event struct {
	Time         string `json:"time"`
	ClosedBefore string `json:"closedBefore"`
}

// Summary is what a scheduled run did, as its invocation answers it and
// its last log line says it.
type Summary struct {
	ClosedBefore time.Time `json:"closedBefore"`
	// Idle: no pass was under way and the next is not due yet (NextPass);
	// the run read nothing but its position.
	Idle     bool      `json:"idle,omitempty"`
	NextPass time.Time `json:"nextPass,omitzero"`
	// Resumed: the run went on with a pass an earlier run stopped.
	Resumed    bool  `json:"resumed"`
	Scanned    int64 `json:"scanned"`
	Candidates int   `json:"candidates"`
	Archived   int   `json:"archived"`
	Events     int64 `json:"events"`
	Finished   int   `json:"finished"`
	Failed     int   `json:"failed"`
	// Stopped is why the run ended before the end of the table ("time"):
	// the next one goes on from there. "" when the pass is complete.
	Stopped string `json:"stopped,omitempty"`
}

// Handler is the scheduled archiver. Archival is done in passes, each a
// scan of the whole table that archives the accounts closed more than the
// retention ago; a pass starts at most every Every, and goes on over as
// many runs as it takes, each until a margin before its invocation's
// deadline. Where a pass stands is kept in the bucket, so that the next
// run (the next day's) goes on from there: on a table of any size, a pass
// goes through it all, and a table is scanned once per Every however
// often the schedule fires.
type Handler struct {
	Store     *eventstore.Store
	Objects   eventstore.ArchiveObjects
	Retention time.Duration
	// Every is the least time from one pass's start to the next's.
	Every time.Duration
	Log   *slog.Logger
	// Margin is how long before the invocation's deadline a run stops
	// taking up accounts, to finish the one it is at and keep its place.
	Margin time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// PositionKey is the object, in the archive bucket, that keeps where the
// archival's passes stand. Its name has two segments, so it is never an
// archive's (tenant/category/id/LAST.jsonl).
const PositionKey = "archiver/position.json"

// position is the PositionKey object.
type position struct {
	// Running: a pass is under way, and goes on from Cursor (null: the
	// beginning of the table).
	Running bool                   `json:"running"`
	Cursor  *eventstore.ScanCursor `json:"cursor"`
	// Started is when the pass under way, or the last one, started.
	Started time.Time `json:"started"`
	// SavedAt is when the last run ended.
	SavedAt time.Time `json:"savedAt"`
}

// Handle runs the archival once.
func (h *Handler) Handle(ctx context.Context, ev Event) (Summary, error) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	byHand := ev.ClosedBefore != ""
	var closedBefore time.Time
	switch {
	case byHand:
		t, err := time.Parse(time.RFC3339Nano, ev.ClosedBefore)
		if err != nil {
			return Summary{}, fmt.Errorf("archiver: closedBefore %q is not an RFC 3339 time", ev.ClosedBefore)
		}
		closedBefore = t
	case ev.Time != "":
		t, err := time.Parse(time.RFC3339Nano, ev.Time)
		if err != nil {
			return Summary{}, fmt.Errorf("archiver: time %q is not an RFC 3339 time", ev.Time)
		}
		closedBefore = t.Add(-h.Retention)
	default:
		closedBefore = now().Add(-h.Retention)
	}
	pos, err := h.position(ctx, log)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{ClosedBefore: closedBefore.UTC(), Resumed: pos.Running}
	if !pos.Running && !byHand && !pos.Started.IsZero() && now().Before(pos.Started.Add(h.Every)) {
		sum.Idle, sum.NextPass = true, pos.Started.Add(h.Every).UTC()
		log.InfoContext(ctx, "archival idle", "lastPass", pos.Started.UTC().Format(time.RFC3339), "nextPass", sum.NextPass.Format(time.RFC3339))
		return sum, nil
	}
	if !pos.Running {
		pos = position{Running: true, Started: now().UTC()}
	}
	cfg := Config{Store: h.Store, Objects: h.Objects, ClosedBefore: closedBefore, From: pos.Cursor, Now: now, Log: log}
	if deadline, ok := ctx.Deadline(); ok {
		cfg.Until = deadline.Add(-h.Margin)
	}
	log.InfoContext(ctx, "archival started", "closedBefore", sum.ClosedBefore.Format(time.RFC3339), "resumed", sum.Resumed,
		"passStarted", pos.Started.Format(time.RFC3339))
	res, err := Run(ctx, cfg)
	sum.Scanned, sum.Candidates, sum.Archived, sum.Events = res.Scanned, res.Candidates, res.Archived, res.Events
	sum.Finished, sum.Failed, sum.Stopped = res.Finished, len(res.Failed), res.Stopped
	if err != nil {
		// The scan failed: the next run goes on from where this one
		// started, which it has not passed for sure.
		log.ErrorContext(ctx, "archival stopped", "error", err.Error())
		return sum, err
	}
	pos.Running, pos.Cursor, pos.SavedAt = res.Stopped != "", res.Next, now().UTC()
	if err := h.save(ctx, pos); err != nil {
		log.ErrorContext(ctx, "archival position not kept", "error", err.Error())
		return sum, err
	}
	log.InfoContext(ctx, "archival run", "closedBefore", sum.ClosedBefore.Format(time.RFC3339), "resumed", sum.Resumed,
		"scanned", sum.Scanned, "candidates", sum.Candidates, "archived", sum.Archived, "events", sum.Events,
		"finished", sum.Finished, "failed", sum.Failed, "stopped", sum.Stopped, "passComplete", !pos.Running)
	if err := res.Err(); err != nil {
		return sum, fmt.Errorf("archiver: %d account(s) not archived, the next pass tries them again: %w", len(res.Failed), err)
	}
	return sum, nil
}

// position reads where the passes stand; none is no pass yet.
func (h *Handler) position(ctx context.Context, log *slog.Logger) (position, error) {
	var p position
	b, err := h.Objects.Get(ctx, PositionKey)
	switch {
	case errors.Is(err, eventstore.ErrNotFound):
		return p, nil
	case err != nil:
		return p, fmt.Errorf("archiver: read the position: %w", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		// A position that does not read costs a pass from the beginning,
		// never a run.
		log.WarnContext(ctx, "archival position unreadable, a pass starts from the beginning", "error", err.Error())
		return position{}, nil
	}
	return p, nil
}

func (h *Handler) save(ctx context.Context, p position) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return h.Objects.Put(ctx, PositionKey, b)
}
