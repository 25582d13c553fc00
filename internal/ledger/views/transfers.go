package views

import (
	"context"
	"log/slog"
	"time"

	"annals/internal/kit/projection"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

// TransfersView is the name of the transfer view in logs and dead letters.
const TransfersView = "transfers"

// TransferState is what the transfer view keeps of a transfer: the
// domain's own fold, and when it was requested (the sweeper's clock).
type TransferState struct {
	Transfer    transfer.Transfer
	RequestedAt time.Time
}

// TransferRow is one transfer of the transfer view, with its stream
// position and quarantine.
type TransferRow struct {
	Tenant     string
	TransferID string // the transfer stream's id
	State      TransferState
	Version    int64
	UpdatedAt  time.Time
	Quarantine *projection.Quarantine
}

// TransferStore is where the transfer view lives.
type TransferStore interface {
	// Transfer returns the row (consistent read), or found false.
	Transfer(ctx context.Context, tenant, transferID string) (row TransferRow, found bool, err error)
	// PutTransfer writes the whole row if it does not exist yet or its
	// position is still expected, else fails with ErrStale.
	PutTransfer(ctx context.Context, row TransferRow, expected int64) error
	// PendingBefore lists, oldest first, up to limit transfers of any
	// tenant still pending that were requested before the time, starting
	// after from: the last of the previous page read with the same before,
	// or the zero Stuck.
	PendingBefore(ctx context.Context, before time.Time, from app.Stuck, limit int) ([]app.Stuck, error)
}

// NewTransfers returns the transfer view over store: per transfer stream,
// the transfer's own fold, for GET /transfers/{id} and the sweeper.
func NewTransfers(store TransferStore, events projection.EventReader, dead *projection.DeadLetters, log *slog.Logger) *projection.Projection[TransferState] {
	return projection.New(TransfersView, app.TransferCategory, transferModel{store}, events, dead, log)
}

type transferModel struct{ store TransferStore }

func (m transferModel) Load(ctx context.Context, stream eventstore.StreamID) (TransferState, projection.Position, error) {
	row, _, err := m.store.Transfer(ctx, stream.Tenant, stream.ID)
	return row.State, projection.Position{Version: row.Version, UpdatedAt: row.UpdatedAt, Quarantine: row.Quarantine}, err
}

// Fold takes the transfer's own fold's step (app.EvolveTransfer), so that a
// row holds exactly what loading the stream gives (the correlation id too),
// and a rebuild can be checked against it.
func (transferModel) Fold(s TransferState, e projection.Event) (TransferState, error) {
	ev, err := projection.Decoded(e, app.DecodeTransfer)
	if err != nil || ev == nil {
		return s, err
	}
	if _, ok := ev.(transfer.Requested); ok {
		s.RequestedAt = e.RecordedAt.UTC()
	}
	s.Transfer = app.EvolveTransfer(s.Transfer, e.Event, ev)
	return s, nil
}

func (m transferModel) Save(ctx context.Context, stream eventstore.StreamID, s TransferState, pos projection.Position, expected int64) error {
	return m.store.PutTransfer(ctx, TransferRow{
		Tenant: stream.Tenant, TransferID: stream.ID, State: s,
		Version: pos.Version, UpdatedAt: pos.UpdatedAt, Quarantine: pos.Quarantine,
	}, expected)
}

// Kept is the row as saved: a transfer's state is all of it.
func (transferModel) Kept(s TransferState, _ projection.Position) TransferState { return s }
