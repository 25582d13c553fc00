package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/transfer"
)

// Stuck is a transfer the transfer view still shows pending.
type Stuck struct {
	Tenant      string
	TransferID  string
	RequestedAt time.Time
}

// PendingLister lists pending transfers requested before a time, oldest
// first, a page at a time; the transfer view is one.
type PendingLister interface {
	// PendingBefore returns up to limit of them, starting after from: the
	// last of the previous page read with the same before, or the zero
	// Stuck for the first.
	PendingBefore(ctx context.Context, before time.Time, from Stuck, limit int) ([]Stuck, error)
}

// SkippedLister lists the streams of the commits the fan-out skipped and
// has not had republished: the letters on its skipped-commits queue
// (redrive.ListSkipped), left where they are.
type SkippedLister interface {
	SkippedStreams(ctx context.Context) ([]eventstore.StreamID, error)
}

// SweepReport says what a sweep found and did.
type SweepReport struct {
	Found     int // pending in the view
	Skipped   int // transfers the fan-out skipped a commit of
	Completed int // driven to completed
	Failed    int // driven to failed
	Errors    int // could not be driven this time
}

// Sweep drives every transfer that the view shows pending since before
// older (those whose records the process manager gave up on, or that it
// never got) and every transfer the fan-out skipped a commit of.
//
// The view cannot list a transfer whose request the fan-out skipped: the
// request never reached the view (nor woke the manager), so the transfer
// has no row at all. The fan-out's letters name exactly those, so they are
// the sweep's second source, read first. The other way to find them, a
// scan of the events table for transfer streams the view lacks, reads the
// whole table (DynamoDB bills a filtered scan for every item it reads) on
// every run; reading the letters costs a few short polls of an empty
// queue, so a scheduled sweep stays cheap. Commits whose stream records
// expired unsent leave no letter: a rebuild of the transfer view from the
// events table (annals rebuild transfers) gives them their rows, and the
// Pending index then lists them. A letter's transfer is driven whatever
// its age: nothing else will.
//
// It uses the manager's own steps, so a transfer that is in fact moving
// (or done, while the view lags) is only driven where it already is, and a
// transfer named by both sources is driven once. It reads the view page
// transfers at a time and goes on past a transfer that fails to move, to
// the end of the list, so transfers that cannot move (yet) never hide the
// ones behind them; it reports the first error with the count.
func Sweep(ctx context.Context, m *Manager, list PendingLister, skipped SkippedLister, before time.Time, page int) (SweepReport, error) {
	var r SweepReport
	if page < 1 {
		return r, fmt.Errorf("sweep: a page of %d transfers", page)
	}
	var first error
	driven := map[eventstore.StreamID]bool{}
	drive := func(stream eventstore.StreamID) {
		driven[stream] = true
		t, err := m.Drive(ctx, stream)
		switch t.Status {
		case transfer.StatusCompleted:
			r.Completed++
		case transfer.StatusFailed:
			r.Failed++
		}
		if err != nil {
			// Keep the first: the count says how many more.
			if r.Errors++; first == nil {
				first = fmt.Errorf("transfer %s of %s: %w", stream.ID, stream.Tenant, err)
			}
		}
	}

	if skipped != nil {
		streams, err := skipped.SkippedStreams(ctx)
		if err != nil {
			// What the view lists still moves.
			first = fmt.Errorf("list the commits the fan-out skipped: %w", err)
		}
		var transfers []eventstore.StreamID
		for _, s := range streams {
			if s.Category == TransferCategory && !slices.Contains(transfers, s) {
				transfers = append(transfers, s)
			}
		}
		r.Skipped = len(transfers)
		for i, s := range transfers {
			if err := ctx.Err(); err != nil {
				r.Errors += len(transfers) - i
				return r, errors.Join(fmt.Errorf("sweep stopped before %s of %s: %w", s.ID, s.Tenant, err), first)
			}
			drive(s)
		}
	}

	var from Stuck
	for {
		stuck, err := list.PendingBefore(ctx, before, from, page)
		if err != nil {
			return r, errors.Join(fmt.Errorf("list pending transfers: %w", err), first)
		}
		r.Found += len(stuck)
		for i, s := range stuck {
			if err := ctx.Err(); err != nil {
				// What the sweep did not reach did not move.
				r.Errors += len(stuck) - i
				return r, errors.Join(fmt.Errorf("sweep stopped before %s of %s: %w", s.TransferID, s.Tenant, err), first)
			}
			stream, err := TransferStream(s.Tenant, s.TransferID)
			switch {
			case err != nil:
				if r.Errors++; first == nil {
					first = fmt.Errorf("transfer %s of %s: %w", s.TransferID, s.Tenant, err)
				}
			case !driven[stream]:
				drive(stream)
			}
		}
		if len(stuck) < page {
			return r, first
		}
		if last := stuck[len(stuck)-1]; last.Tenant != from.Tenant || last.TransferID != from.TransferID {
			from = last
		} else {
			return r, errors.Join(fmt.Errorf("list pending transfers: the page after %s of %s ends where it started", from.TransferID, from.Tenant), first)
		}
	}
}
