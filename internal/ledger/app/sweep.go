package app

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// SweepReport says what a sweep found and did.
type SweepReport struct {
	Found     int // pending in the view
	Completed int // driven to completed
	Failed    int // driven to failed
	Errors    int // could not be driven this time
}

// Sweep drives every transfer that the view shows pending since before
// older: those whose records the process manager gave up on, or that it
// never got. It uses the manager's own steps, so a transfer that is in fact
// moving (or done, while the view lags) is only driven where it already
// is. It reads the view page transfers at a time and goes on past a
// transfer that fails to move, to the end of the list, so transfers that
// cannot move (yet) never hide the ones behind them; it reports the first
// error with the count.
func Sweep(ctx context.Context, m *Manager, list PendingLister, before time.Time, page int) (SweepReport, error) {
	var r SweepReport
	if page < 1 {
		return r, fmt.Errorf("sweep: a page of %d transfers", page)
	}
	var first error
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
			if err == nil {
				var t transfer.Transfer
				t, err = m.Drive(ctx, stream)
				switch t.Status {
				case transfer.StatusCompleted:
					r.Completed++
				case transfer.StatusFailed:
					r.Failed++
				}
			}
			if err != nil {
				// Keep the first: the count says how many more.
				if r.Errors++; first == nil {
					first = fmt.Errorf("transfer %s of %s: %w", s.TransferID, s.Tenant, err)
				}
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
