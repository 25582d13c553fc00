package rebuild

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

// EventReader reads a stream's events (consistent); *eventstore.Store is one.
type EventReader interface {
	Read(ctx context.Context, stream eventstore.StreamID, from int64, limit int) (eventstore.EventPage, error)
}

// Report is what a verification found, stream by stream.
type Report struct {
	Streams int // streams compared
	Equal   int // the fresh view equals the live one and the events
	// Lagging are streams where one view stands at another version than
	// the other, neither quarantined differently: the projector (or the
	// rebuild's last pass) has not applied the latest commits yet. They
	// are not differences; verify again after a catch-up.
	Lagging []string
	// Differences are real disagreements: at the same version, or on the
	// quarantine, or between the fresh view and the events.
	Differences []string
}

// OK reports whether the verification found no difference.
func (r Report) OK() bool { return len(r.Differences) == 0 }

// VerifyAccounts compares the fresh account view to the live one on every
// stream, and checks each fresh account against the ledger's own fold of
// the stream's events up to the account's version.
func VerifyAccounts(ctx context.Context, fresh, live projection.AccountStore, events EventReader, streams []eventstore.StreamID, workers int) (Report, error) {
	return verify(ctx, streams, workers, func(ctx context.Context, s eventstore.StreamID) (string, bool, error) {
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
		return compare(f.Version, l.Version, f.Quarantine, l.Quarantine, func() string {
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
func VerifyHistory(ctx context.Context, fresh, live projection.HistoryStore, events EventReader, streams []eventstore.StreamID, workers int) (Report, error) {
	return verify(ctx, streams, workers, func(ctx context.Context, s eventstore.StreamID) (string, bool, error) {
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
		if diff, err := checkEntries(ctx, events, s, f.Version, fe); err != nil || diff != "" {
			return diff, false, err
		}
		if !lok {
			return "missing from the live view", true, nil
		}
		le, err := allEntries(ctx, live, s)
		if err != nil {
			return "", false, fmt.Errorf("read %s in the live view: %w", s, err)
		}
		return compare(f.Version, l.Version, f.Quarantine, l.Quarantine, func() string {
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
func VerifyTransfers(ctx context.Context, fresh, live projection.TransferStore, events EventReader, streams []eventstore.StreamID, workers int) (Report, error) {
	return verify(ctx, streams, workers, func(ctx context.Context, s eventstore.StreamID) (string, bool, error) {
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
		want, requestedAt, err := transferFold(ctx, events, s, f.Version)
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
		return compare(f.Version, l.Version, f.Quarantine, l.Quarantine, func() string {
			if f.State.Transfer != l.State.Transfer || !f.State.RequestedAt.Equal(l.State.RequestedAt) || !f.UpdatedAt.Equal(l.UpdatedAt) {
				return fmt.Sprintf("fresh %+v requested at %s updated at %s, live %+v requested at %s updated at %s",
					f.State.Transfer, stamp(f.State.RequestedAt), stamp(f.UpdatedAt), l.State.Transfer, stamp(l.State.RequestedAt), stamp(l.UpdatedAt))
			}
			return ""
		})
	})
}

// compare judges two positions of a stream: a differing quarantine is a
// difference, differing versions are a lag, and at the same version same
// is the row comparison.
func compare(fv, lv int64, fq, lq *projection.Quarantine, same func() string) (string, bool, error) {
	switch {
	case (fq == nil) != (lq == nil) || fq != nil && fq.At != lq.At:
		return fmt.Sprintf("quarantine fresh %s, live %s", quarantine(fq, fv), quarantine(lq, lv)), false, nil
	case fv != lv:
		return fmt.Sprintf("fresh at version %d, live at %d", fv, lv), true, nil
	}
	if d := same(); d != "" {
		return "at version " + fmt.Sprint(fv) + ": " + d, false, nil
	}
	return "", false, nil
}

func quarantine(q *projection.Quarantine, v int64) string {
	if q == nil {
		return fmt.Sprintf("none (at version %d)", v)
	}
	return fmt.Sprintf("at %d (%s)", q.At, q.Reason)
}

// verify runs check on every stream with workers in parallel. check
// returns a description of what is wrong, if anything, and whether that
// is a lag rather than a difference.
func verify(ctx context.Context, streams []eventstore.StreamID, workers int, check func(context.Context, eventstore.StreamID) (string, bool, error)) (Report, error) {
	var (
		mu   sync.Mutex
		rep  = Report{Streams: len(streams)}
		next atomic.Int64
	)
	err := parallel(ctx, max(workers, 1), func(ctx context.Context, _ int) error {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(streams) {
				return nil
			}
			s := streams[i]
			diff, lag, err := check(ctx, s)
			if err != nil {
				return err
			}
			mu.Lock()
			switch {
			case diff == "":
				rep.Equal++
			case lag:
				rep.Lagging = append(rep.Lagging, s.Key()+": "+diff)
			default:
				rep.Differences = append(rep.Differences, s.Key()+": "+diff)
			}
			mu.Unlock()
		}
	})
	slices.Sort(rep.Lagging)
	slices.Sort(rep.Differences)
	return rep, err
}

// readTo returns the stream's events from 1 to version.
func readTo(ctx context.Context, events EventReader, s eventstore.StreamID, version int64) ([]eventstore.Event, error) {
	var out []eventstore.Event
	for from := int64(1); from <= version; {
		page, err := events.Read(ctx, s, from, int(min(version-from+1, 1000)))
		if err != nil {
			return nil, fmt.Errorf("read %s from %d: %w", s, from, err)
		}
		if len(page.Events) == 0 {
			return nil, fmt.Errorf("read %s from %d: the events table ends before version %d", s, from, version)
		}
		for _, e := range page.Events {
			if e.Version <= version {
				out = append(out, e)
			}
		}
		from = page.Events[len(page.Events)-1].Version + 1
	}
	return out, nil
}

// accountFold is the ledger's fold of the stream's events up to version;
// types the ledger does not know are not part of an account's state.
func accountFold(ctx context.Context, events EventReader, s eventstore.StreamID, version int64) (account.Account, error) {
	evs, err := readTo(ctx, events, s, version)
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

// transferFold is the transfer package's own fold of the stream's events
// up to version, and when the transfer was requested (the recordedAt of
// its request), which the view keeps for the sweeper.
func transferFold(ctx context.Context, events EventReader, s eventstore.StreamID, version int64) (transfer.Transfer, time.Time, error) {
	evs, err := readTo(ctx, events, s, version)
	if err != nil {
		return transfer.Transfer{}, time.Time{}, err
	}
	fold := transfer.Fold()
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
func allEntries(ctx context.Context, h projection.HistoryStore, s eventstore.StreamID) ([]projection.HistoryEntry, error) {
	var out []projection.HistoryEntry
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

// checkEntries compares a history with the stream's deposits and
// withdrawals up to version.
func checkEntries(ctx context.Context, events EventReader, s eventstore.StreamID, version int64, got []projection.HistoryEntry) (string, error) {
	evs, err := readTo(ctx, events, s, version)
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
			want = append(want, entryLine(e, projection.KindDeposit, ev.Amount, ev.BalanceAfter, ev.Reference, ev.TransferID))
		case account.MoneyWithdrawn:
			want = append(want, entryLine(e, projection.KindWithdrawal, ev.Amount, ev.BalanceAfter, ev.Reference, ev.TransferID))
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
