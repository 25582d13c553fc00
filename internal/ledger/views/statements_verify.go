package views

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/rebuild"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// VerifyStatements compares the fresh statement view to the live one on
// every stream, and checks each fresh account's head and days against the
// ledger's own fold of the stream's events up to the head's version.
func VerifyStatements(ctx context.Context, fresh, live StatementStore, events rebuild.EventReader, streams []eventstore.StreamID, workers int) (rebuild.Report, error) {
	return rebuild.Verify(ctx, streams, workers, func(ctx context.Context, s eventstore.StreamID) (string, bool, error) {
		f, fok, err := fresh.Head(ctx, s.Tenant, s.ID)
		if err != nil {
			return "", false, fmt.Errorf("read %s in the fresh view: %w", s, err)
		}
		l, lok, err := live.Head(ctx, s.Tenant, s.ID)
		if err != nil {
			return "", false, fmt.Errorf("read %s in the live view: %w", s, err)
		}
		if !fok {
			return "missing from the fresh view", false, nil
		}
		fd, err := allDays(ctx, fresh, s)
		if err != nil {
			return "", false, fmt.Errorf("read %s in the fresh view: %w", s, err)
		}
		want, wantDays, err := statementsOf(ctx, events, s, f.Position.Version)
		if err != nil {
			return "", false, err
		}
		want.Position.Quarantine = f.Position.Quarantine
		if diff := statementDiff(f, fd, want, wantDays); diff != "" {
			return fmt.Sprintf("fresh statements at version %d differ from the ledger's fold: %s", f.Position.Version, diff), false, nil
		}
		if !lok {
			return "missing from the live view", true, nil
		}
		ld, err := allDays(ctx, live, s)
		if err != nil {
			return "", false, fmt.Errorf("read %s in the live view: %w", s, err)
		}
		return rebuild.Compare(f.Position.Version, l.Position.Version, f.Position.Quarantine, l.Position.Quarantine, func() string {
			return statementDiff(f, fd, l, ld)
		})
	})
}

// statementsOf is what the statement view must hold of a stream at
// version, from the ledger's own account fold: a day per UTC day of
// recordedAt with deposits or withdrawals, a credit of a transfer still in
// flight out of the account being a refund.
func statementsOf(ctx context.Context, events rebuild.EventReader, s eventstore.StreamID, version int64) (StatementHead, []StatementDay, error) {
	evs, err := rebuild.ReadTo(ctx, events, s, version)
	if err != nil {
		return StatementHead{}, nil, err
	}
	var (
		acc  account.Account
		days []StatementDay
		head StatementHead
	)
	for _, e := range evs {
		head.Position.Version, head.Position.UpdatedAt = e.Version, e.RecordedAt.UTC()
		ev, err := app.Decode(e)
		var unknown *account.UnknownEventError
		if errors.As(err, &unknown) {
			continue
		}
		if err != nil {
			return StatementHead{}, nil, fmt.Errorf("fold %s: %w", s, err)
		}
		var sum *int64
		var closing int64
		date := e.RecordedAt.UTC().Format(DateLayout)
		n := len(days)
		if n == 0 || days[n-1].Date != date {
			opening := int64(0)
			if n > 0 {
				opening = days[n-1].Closing
			}
			days = append(days, StatementDay{Date: date, Opening: opening, FirstVersion: e.Version})
		}
		d := &days[len(days)-1]
		switch ev := ev.(type) {
		case account.MoneyDeposited:
			_, refund := acc.TransfersInFlight[ev.TransferID]
			switch {
			case ev.TransferID == "":
				sum = &d.Deposits
			case refund:
				sum = &d.Refunds
			default:
				sum = &d.TransfersIn
			}
			*sum += ev.Amount
			closing = ev.BalanceAfter
		case account.MoneyWithdrawn:
			sum = &d.Withdrawals
			if ev.TransferID != "" {
				sum = &d.TransfersOut
			}
			*sum += ev.Amount
			closing = ev.BalanceAfter
		}
		if sum == nil {
			// Not a movement: no day of its own.
			if d.Movements == 0 {
				days = days[:len(days)-1]
			}
		} else {
			d.Closing, d.LastVersion, d.Movements = closing, e.Version, d.Movements+1
		}
		acc = account.Evolve(acc, ev)
	}
	head.Currency = acc.Currency
	head.InFlight = slices.Sorted(maps.Keys(acc.TransfersInFlight))
	if len(days) > 0 {
		head.Last = days[len(days)-1]
	}
	return head, days, nil
}

// statementDiff describes how one head and its days differ from another's,
// or returns "".
func statementDiff(h StatementHead, days []StatementDay, wantHead StatementHead, wantDays []StatementDay) string {
	var diffs []string
	norm := func(h StatementHead) StatementHead {
		h = cloneHead(h)
		if len(h.InFlight) == 0 {
			h.InFlight = nil
		}
		return h
	}
	if a, b := norm(h), norm(wantHead); !reflect.DeepEqual(a, b) {
		diffs = append(diffs, fmt.Sprintf("head %+v, want %+v", a, b))
	}
	if !slices.Equal(days, wantDays) {
		diffs = append(diffs, fmt.Sprintf("days\n  %s\nwant\n  %s", dayLines(days), dayLines(wantDays)))
	}
	return strings.Join(diffs, "; ")
}

func dayLines(days []StatementDay) string {
	lines := make([]string, len(days))
	for i, d := range days {
		lines[i] = fmt.Sprintf("%+v", d)
	}
	return strings.Join(lines, "\n  ")
}

// allDays reads an account's every day, oldest first.
func allDays(ctx context.Context, store StatementStore, s eventstore.StreamID) ([]StatementDay, error) {
	return store.Days(ctx, s.Tenant, s.ID, "0000-01-01", "9999-12-31")
}
