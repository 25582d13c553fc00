package transfer

import (
	"context"
	"fmt"
	"time"
)

// Stuck is a transfer the transfer view still shows pending.
type Stuck struct {
	Tenant      string
	TransferID  string
	RequestedAt time.Time
}

// PendingLister lists pending transfers requested before a time, oldest
// first; the transfer view is one.
type PendingLister interface {
	PendingBefore(ctx context.Context, before time.Time, limit int) ([]Stuck, error)
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
// is. It goes on past a transfer that fails to move and reports the first
// error with the count.
func Sweep(ctx context.Context, m *Manager, list PendingLister, before time.Time, limit int) (SweepReport, error) {
	var r SweepReport
	stuck, err := list.PendingBefore(ctx, before, limit)
	if err != nil {
		return r, fmt.Errorf("list pending transfers: %w", err)
	}
	r.Found = len(stuck)
	var first error
	for _, s := range stuck {
		stream, err := Stream(s.Tenant, s.TransferID)
		if err == nil {
			var t Transfer
			t, err = m.Drive(ctx, stream)
			switch t.Status {
			case StatusCompleted:
				r.Completed++
			case StatusFailed:
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
	return r, first
}
