package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"annals/internal/kit/eventstore"
)

// State is a ledger stream's folded state at one point of its history: an
// account.Account for an account stream, a transfer.Transfer for a
// transfer stream.
type State struct {
	Value      any
	Version    int64     // the last event folded
	RecordedAt time.Time // when that event's commit was recorded
}

// ErrNoFold is a stream of a category the ledger keeps no aggregate of.
var ErrNoFold = errors.New("the ledger has no fold for this category")

// StateOf folds a ledger stream with its aggregate's own fold, through the
// store's loads: at its head, or right after version (when above 0), or
// as recorded at time at (when not zero). It is what an operator reads of
// a stream; commands decide on a Load of their own.
func StateOf(ctx context.Context, store *eventstore.Store, stream eventstore.StreamID, version int64, at time.Time) (State, error) {
	switch stream.Category {
	case AccountCategory:
		return stateOf(ctx, NewAccounts(store), stream, version, at)
	case TransferCategory:
		return stateOf(ctx, NewTransfers(store), stream, version, at)
	}
	return State{}, fmt.Errorf("%s: %w (%s, %s)", stream, ErrNoFold, AccountCategory, TransferCategory)
}

func stateOf[S any](ctx context.Context, agg *eventstore.Aggregate[S], stream eventstore.StreamID, version int64, at time.Time) (State, error) {
	switch {
	case version > 0:
		p, err := agg.At(ctx, stream, version)
		return State{Value: p.State, Version: p.Version, RecordedAt: p.RecordedAt}, err
	case !at.IsZero():
		p, err := agg.AsOf(ctx, stream, at)
		return State{Value: p.State, Version: p.Version, RecordedAt: p.RecordedAt}, err
	}
	cur, err := agg.Load(ctx, stream)
	return State{Value: cur.State, Version: cur.Head.Version(), RecordedAt: cur.Head.RecordedAt()}, err
}
