package views

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/rebuild"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

// VerifyAccounts compares the fresh account view to the live one on every
// stream, and checks each fresh account against the ledger's own fold of
// the stream's events up to the account's version.
func VerifyAccounts(ctx context.Context, fresh, live AccountStore, events rebuild.EventReader, streams []eventstore.StreamID, workers int) (rebuild.Report, error) {
	return rebuild.Verify(ctx, streams, workers, func(ctx context.Context, s eventstore.StreamID) (string, bool, error) {
		f, fok, err := fresh.Account(ctx, s.Tenant, s.ID)
		if err != nil {
			return "", false, fmt.Errorf("read %s in the fresh view: %w", s, err)
		}
		l, lok, err := live.Account(ctx, s.Tenant, s.ID)
		if err != nil {
			return "", false, fmt.Errorf("read %s in the live view: %w", s, err)
		}
		if !fok {
			return "missing from the fresh view", false, nil
		}
		want, err := accountFold(ctx, events, s, f.Version)
		if err != nil {
			return "", false, err
		}
		if !reflect.DeepEqual(normal(f.State), normal(want)) {
			return fmt.Sprintf("fresh state at version %d is %+v, the ledger's fold gives %+v", f.Version, f.State, want), false, nil
		}
		if !lok {
			return "missing from the live view", true, nil
		}
		return rebuild.Compare(f.Version, l.Version, f.Quarantine, l.Quarantine, func() string {
			f.UpdatedAt, l.UpdatedAt = f.UpdatedAt.UTC(), l.UpdatedAt.UTC()
			f.State, l.State = normal(f.State), normal(l.State)
			if !reflect.DeepEqual(f, l) {
				return fmt.Sprintf("fresh %+v, live %+v", f, l)
			}
			return ""
		})
	})
}

// VerifyHistory compares the fresh transaction history to the live one on
// every stream, and checks each fresh history against the deposits and
// withdrawals among the stream's events up to its position.
func VerifyHistory(ctx context.Context, fresh, live HistoryStore, events rebuild.EventReader, streams []eventstore.StreamID, workers int) (rebuild.Report, error) {
	return rebuild.Verify(ctx, streams, workers, func(ctx context.Context, s eventstore.StreamID) (string, bool, error) {
		f, fok, err := fresh.Position(ctx, s.Tenant, s.ID)
		if err != nil {
			return "", false, fmt.Errorf("read %s in the fresh view: %w", s, err)
		}
		l, lok, err := live.Position(ctx, s.Tenant, s.ID)
		if err != nil {
			return "", false, fmt.Errorf("read %s in the live view: %w", s, err)
		}
		if !fok {
			return "missing from the fresh view", false, nil
		}
		fe, err := allEntries(ctx, fresh, s)
		if err != nil {
			return "", false, fmt.Errorf("read %s in the fresh view: %w", s, err)
		}
		if diff, err := verifyEntries(ctx, events, s, f.Version, fe); err != nil || diff != "" {
			return diff, false, err
		}
		if !lok {
			return "missing from the live view", true, nil
		}
		le, err := allEntries(ctx, live, s)
		if err != nil {
			return "", false, fmt.Errorf("read %s in the live view: %w", s, err)
		}
		return rebuild.Compare(f.Version, l.Version, f.Quarantine, l.Quarantine, func() string {
			if !f.UpdatedAt.Equal(l.UpdatedAt) {
				return fmt.Sprintf("updatedAt fresh %s, live %s", f.UpdatedAt, l.UpdatedAt)
			}
			if !reflect.DeepEqual(fe, le) {
				return fmt.Sprintf("fresh entries %+v, live %+v", fe, le)
			}
			return ""
		})
	})
}

// VerifyTransfers compares the fresh transfer view to the live one on every
// stream, and checks each fresh transfer against the transfer's own fold of
// the stream's events up to the row's version (and its request time
// against the request's recordedAt).
func VerifyTransfers(ctx context.Context, fresh, live TransferStore, events rebuild.EventReader, streams []eventstore.StreamID, workers int) (rebuild.Report, error) {
	return rebuild.Verify(ctx, streams, workers, func(ctx context.Context, s eventstore.StreamID) (string, bool, error) {
		f, fok, err := fresh.Transfer(ctx, s.Tenant, s.ID)
		if err != nil {
			return "", false, fmt.Errorf("read %s in the fresh view: %w", s, err)
		}
		l, lok, err := live.Transfer(ctx, s.Tenant, s.ID)
		if err != nil {
			return "", false, fmt.Errorf("read %s in the live view: %w", s, err)
		}
		if !fok {
			return "missing from the fresh view", false, nil
		}
		want, requestedAt, err := foldTransfer(ctx, events, s, f.Version)
		if err != nil {
			return "", false, err
		}
		if f.State.Transfer != want || !f.State.RequestedAt.Equal(requestedAt) {
			return fmt.Sprintf("fresh state at version %d is %+v requested at %s, the transfer's fold gives %+v requested at %s",
				f.Version, f.State.Transfer, stamp(f.State.RequestedAt), want, stamp(requestedAt)), false, nil
		}
		if !lok {
			return "missing from the live view", true, nil
		}
		return rebuild.Compare(f.Version, l.Version, f.Quarantine, l.Quarantine, func() string {
			if f.State.Transfer != l.State.Transfer || !f.State.RequestedAt.Equal(l.State.RequestedAt) || !f.UpdatedAt.Equal(l.UpdatedAt) {
				return fmt.Sprintf("fresh %+v requested at %s updated at %s, live %+v requested at %s updated at %s",
					f.State.Transfer, stamp(f.State.RequestedAt), stamp(f.UpdatedAt), l.State.Transfer, stamp(l.State.RequestedAt), stamp(l.UpdatedAt))
			}
			return ""
		})
	})
}

// accountFold is the ledger's fold of the stream's events up to version;
// types the ledger does not know are not part of an account's state.
func accountFold(ctx context.Context, events rebuild.EventReader, s eventstore.StreamID, version int64) (account.Account, error) {
	evs, err := rebuild.ReadTo(ctx, events, s, version)
	if err != nil {
		return account.Account{}, err
	}
	var domain []account.Event
	for _, e := range evs {
		ev, err := app.Decode(e)
		var unknown *account.UnknownEventError
		if errors.As(err, &unknown) {
			continue
		}
		if err != nil {
			return account.Account{}, fmt.Errorf("fold %s: %w", s, err)
		}
		domain = append(domain, ev)
	}
	return account.Fold(domain), nil
}

// foldTransfer is the transfer package's own fold of the stream's events
// up to version, and when the transfer was requested (the recordedAt of
// its request), which the view keeps for the sweeper.
func foldTransfer(ctx context.Context, events rebuild.EventReader, s eventstore.StreamID, version int64) (transfer.Transfer, time.Time, error) {
	evs, err := rebuild.ReadTo(ctx, events, s, version)
	if err != nil {
		return transfer.Transfer{}, time.Time{}, err
	}
	fold := app.TransferFold()
	var t transfer.Transfer
	var requestedAt time.Time
	for _, e := range evs {
		if t, err = fold.Evolve(t, e); err != nil {
			return transfer.Transfer{}, time.Time{}, fmt.Errorf("fold %s: %w", s, err)
		}
		if e.Type == transfer.TypeRequested {
			requestedAt = e.RecordedAt
		}
	}
	return t, requestedAt, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "(never)"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func normal(a account.Account) account.Account {
	if len(a.TransfersInFlight) == 0 {
		a.TransfersInFlight = nil
	}
	return a
}

// allEntries reads an account's whole history, oldest first.
func allEntries(ctx context.Context, h HistoryStore, s eventstore.StreamID) ([]HistoryEntry, error) {
	var out []HistoryEntry
	before := int64(0)
	for {
		page, err := h.Transactions(ctx, s.Tenant, s.ID, before, 500)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < 500 {
			break
		}
		before = page[len(page)-1].Version
	}
	slices.Reverse(out)
	return out, nil
}

// verifyEntries compares a history with the stream's deposits and
// withdrawals up to version.
func verifyEntries(ctx context.Context, events rebuild.EventReader, s eventstore.StreamID, version int64, got []HistoryEntry) (string, error) {
	evs, err := rebuild.ReadTo(ctx, events, s, version)
	if err != nil {
		return "", err
	}
	var want []string
	for _, e := range evs {
		if e.Type != account.TypeMoneyDeposited && e.Type != account.TypeMoneyWithdrawn {
			continue
		}
		ev, err := app.Decode(e)
		if err != nil {
			return "", fmt.Errorf("read the history of %s: %w", s, err)
		}
		switch ev := ev.(type) {
		case account.MoneyDeposited:
			want = append(want, entryLine(e, KindDeposit, ev.Amount, ev.BalanceAfter, ev.Reference, ev.TransferID))
		case account.MoneyWithdrawn:
			want = append(want, entryLine(e, KindWithdrawal, ev.Amount, ev.BalanceAfter, ev.Reference, ev.TransferID))
		}
	}
	var have []string
	for _, h := range got {
		have = append(have, fmt.Sprintf("%d %s %s %d %d %q %q %s %s", h.Version, h.EventID, h.Kind, h.Amount, h.BalanceAfter,
			h.Reference, h.TransferID, h.OccurredAt.UTC().Format("2006-01-02T15:04:05.999999999Z"), h.RecordedAt.UTC().Format("2006-01-02T15:04:05.999999999Z")))
	}
	if !slices.Equal(have, want) {
		return fmt.Sprintf("fresh history up to version %d is\n  %s\nthe events give\n  %s", version,
			strings.Join(have, "\n  "), strings.Join(want, "\n  ")), nil
	}
	return "", nil
}

func entryLine(e eventstore.Event, kind string, amount, balance int64, ref, transfer string) string {
	return fmt.Sprintf("%d %s %s %d %d %q %q %s %s", e.Version, e.ID, kind, amount, balance, ref, transfer,
		e.OccurredAt.UTC().Format("2006-01-02T15:04:05.999999999Z"), e.RecordedAt.UTC().Format("2006-01-02T15:04:05.999999999Z"))
}
