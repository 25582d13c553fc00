// Package archival moves the ledger's closed accounts out of the events
// table into the archive bucket: one run scans the table a page at a
// time and archives, on each page, every account closed before a time.
// The operator's tool (annals archive) and the scheduled archiver
// (ArchiverFunction) run it the same way; the store's Archive does the
// work for each account (docs/eventstore.md, "Archives").
package archival

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// Config is one run.
type Config struct {
	Store   *eventstore.Store
	Objects eventstore.ArchiveObjects
	// ClosedBefore: an account is archived when its close (the last
	// event it takes) was recorded before it.
	ClosedBefore time.Time
	// Max bounds the accounts archived by this run; 0 for no bound.
	Max int
	// From goes on with a scan an earlier run stopped (its Result.Next);
	// nil starts at the beginning of the table.
	From *eventstore.ScanCursor
	// Until is when the run stops taking up accounts (the zero time for
	// never): what it did not reach, the next run does.
	Until time.Time
	// FinishAfter: an archival found half done is finished when it began
	// at least this long ago (DefaultFinishAfter when zero). A younger one
	// may be under way in another process, or be a restore under way,
	// which finishing it would cross.
	FinishAfter time.Duration
	// Now is the clock for Until and FinishAfter; time.Now when nil.
	Now func() time.Time
	// Log gets a line per account archived and per account that failed.
	Log *slog.Logger
	// Archived, if set, is told of each account archived.
	Archived func(eventstore.Archived)
	// Scanned, if set, is told of each page's items read.
	Scanned func(items int)
}

// DefaultFinishAfter is Config.FinishAfter when zero: an archival or a
// restore takes seconds.
const DefaultFinishAfter = time.Hour

// Result is what a run did.
type Result struct {
	Scanned int64 // items read by the scan
	// Candidates are the accounts found closed before the time, archived
	// or not (yet).
	Candidates int
	Archived   int
	Events     int64 // the archived accounts' events
	// Finished counts the archivals an earlier run left half done, which
	// this one finished.
	Finished int
	Failed   []Failure
	// Stopped says why the run ended before the end of the table: "max"
	// or "time"; "" when it reached the end.
	Stopped string
	// Next, when the run stopped, is where the next run goes on from
	// (Config.From); nil for the beginning of the table.
	Next *eventstore.ScanCursor
}

// Failure is an account the run could not archive; the next run tries it
// again.
type Failure struct {
	Stream eventstore.StreamID
	Err    error
}

// Err joins the failures, nil when there were none.
func (r Result) Err() error {
	var errs []error
	for _, f := range r.Failed {
		errs = append(errs, fmt.Errorf("%s: %w", f.Stream, f.Err))
	}
	return errors.Join(errs...)
}

// Run archives the accounts closed before c.ClosedBefore on every page of
// the scan, from c.From on, until the end of the table, c.Max accounts or
// c.Until. An account that fails is logged, listed in the result and
// passed: the next run tries it again. Archived accounts are not read
// again (the scan lists them apart); an archival that an earlier run
// left half done is finished. An error is returned only when the scan
// itself fails.
func Run(ctx context.Context, c Config) (Result, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.FinishAfter == 0 {
		c.FinishAfter = DefaultFinishAfter
	}
	accounts := app.NewAccounts(c.Store)
	closed := account.AccountClosed{}.EventType()
	var res Result
	for cursor := c.From; ; {
		// Eventually consistent: a closed account's commits are long
		// written, and the scan reads the whole table at half the price.
		page, err := c.Store.ScanCommits(ctx, eventstore.CommitScan{Cursor: cursor, SkipArchives: true, Eventual: true})
		if err != nil {
			return res, fmt.Errorf("archival: %w", err)
		}
		res.Scanned += int64(page.Scanned)
		if c.Scanned != nil {
			c.Scanned(page.Scanned)
		}
		// Stopping on this page leaves it for the next run, which reads
		// it again (from the beginning of the table when it is the
		// first): what this one archived is off the scan by then.
		stop := func(why string) (Result, error) {
			res.Next, res.Stopped = cursor, why
			return res, nil
		}
		// The accounts closed before the time, and those whose archival
		// stopped half way (whose commits may be on the page as well).
		var todo []eventstore.StreamID
		seen := map[eventstore.StreamID]bool{}
		for _, a := range page.Archived {
			if a.Leftovers && !seen[a.Stream] {
				todo, seen[a.Stream] = append(todo, a.Stream), true
			}
		}
		for _, commit := range page.Commits {
			last := commit[len(commit)-1]
			if last.Stream.Category == app.AccountCategory && last.Type == closed && last.RecordedAt.Before(c.ClosedBefore) && !seen[last.Stream] {
				todo, seen[last.Stream] = append(todo, last.Stream), true
				res.Candidates++
			}
		}
		for _, stream := range todo {
			now := c.Now()
			if !c.Until.IsZero() && !now.Before(c.Until) {
				return stop("time")
			}
			if c.Max > 0 && res.Archived+res.Finished >= c.Max {
				return stop("max")
			}
			if err := ctx.Err(); err != nil {
				return res, err
			}
			a, ok, err := archive(ctx, c, accounts, stream, now)
			switch {
			case err != nil:
				res.Failed = append(res.Failed, Failure{Stream: stream, Err: err})
				c.Log.ErrorContext(ctx, "account not archived", "stream", stream.Key(), "error", err.Error())
				continue
			case !ok, a.Commits == 0 && a.Removed == 0:
				// Not closed, or archived already with nothing left (its
				// marker met again after this run archived it on an
				// earlier page).
				continue
			case a.Commits == 0:
				res.Finished++
				c.Log.InfoContext(ctx, "archival finished", "stream", stream.Key(), "removed", a.Removed, "key", a.Key)
			default:
				res.Archived++
				res.Events += a.Last
				c.Log.InfoContext(ctx, "account archived", "stream", stream.Key(), "events", a.Last, "commits", a.Commits,
					"snapshots", a.Snapshots, "bucket", a.Bucket, "key", a.Key)
			}
			if c.Archived != nil {
				c.Archived(a)
			}
		}
		if page.Next == nil {
			return res, nil
		}
		cursor = page.Next
	}
}

// archive archives one account if it is closed (a closed account takes
// no more commits), and finishes an archival that stopped half way long
// enough ago. It reports whether it archived.
func archive(ctx context.Context, c Config, accounts *app.Accounts, stream eventstore.StreamID, now time.Time) (eventstore.Archived, bool, error) {
	cur, err := accounts.Load(ctx, stream)
	if err != nil {
		return eventstore.Archived{}, false, fmt.Errorf("load: %w", err)
	}
	switch {
	case cur.Head.Archived():
		a, ok, err := c.Store.ArchiveOf(ctx, stream)
		if err != nil || !ok {
			return a, false, err
		}
		if !a.At.IsZero() && now.Sub(a.At) < c.FinishAfter {
			c.Log.InfoContext(ctx, "archival under way, left to it", "stream", stream.Key(), "began", a.At.Format(time.RFC3339))
			return a, false, nil
		}
	case cur.State.Status != account.StatusClosed:
		return eventstore.Archived{}, false, nil
	}
	a, err := c.Store.Archive(ctx, stream, c.Objects)
	if err != nil {
		return a, false, err
	}
	return a, true, nil
}
