package views

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// StatementsView is the name of the daily statements in logs, dead letters
// and the CLI.
const StatementsView = "statements"

// DateLayout is how a statement day is written: a calendar day in UTC.
const DateLayout = time.DateOnly

// MaxStatementDays is how many days one StatementStore.SaveDays writes: with
// the head, as many items as a DynamoDB transaction takes (100).
const MaxStatementDays = 99

// StatementDay is one day of an account's statement: the day, in UTC, of
// the movements' recordedAt, what the balance was before the first and
// after the last, and the day's movements summed by kind. Only days with a
// movement have one. Opening plus deposits, transfers in and refunds, less
// withdrawals and transfers out, is the closing balance.
type StatementDay struct {
	Date    string // YYYY-MM-DD
	Opening int64  // the previous day's closing; 0 before the first
	// Sums of the day's movements, each positive, in minor units.
	Deposits     int64 // deposits
	Withdrawals  int64 // withdrawals
	TransfersIn  int64 // credits of transfers from another account
	TransfersOut int64 // debits of transfers to another account
	Refunds      int64 // transfers out that failed after their debit, credited back
	Closing      int64 // the balance the day's last movement recorded
	Movements    int64 // how many movements the day had
	// The stream versions of the day's first and last movement, to read
	// the day from the audit trail or the history.
	FirstVersion, LastVersion int64
}

// StatementHead is where an account stands in the statement view: its
// position, and what the next movement needs to be told apart and added to
// its day.
type StatementHead struct {
	Position projection.Position
	// Currency is the account's, from AccountOpened; empty until the view
	// applied it.
	Currency account.Currency
	// InFlight are the transfers out of the account begun and not ended, in
	// id order: a credit of one of them is a refund, not a transfer in.
	InFlight []string
	// Last is the account's last day with a movement (zero Date when
	// none): the next movement adds to it or opens a day at its closing.
	Last StatementDay
}

// StatementStore is where the daily statements live. The DynamoDB table is
// the real one; the in-memory one serves fast tests, and one contract suite
// runs against both.
type StatementStore interface {
	// Head returns the account's head (consistent read), or found false
	// when nothing was applied yet.
	Head(ctx context.Context, tenant, accountID string) (head StatementHead, found bool, err error)
	// SaveDays writes days (at most MaxStatementDays, dates ascending, each
	// moved past expected, the last one head.Last) and moves the head from
	// expected to head, all or nothing; it fails with ErrStale if the
	// stored head is not at expected (or not absent, for expected 0).
	SaveDays(ctx context.Context, tenant, accountID string, days []StatementDay, head StatementHead, expected int64) error
	// Days returns the account's days from from to to (YYYY-MM-DD, both
	// included), oldest first.
	Days(ctx context.Context, tenant, accountID, from, to string) ([]StatementDay, error)
	// DayBefore returns the account's last day before date, or found false.
	DayBefore(ctx context.Context, tenant, accountID, date string) (day StatementDay, found bool, err error)
}

// NewStatements returns the daily statements over store: per account
// stream, one row per UTC day with movements, written with the head in one
// conditional write. Gaps are filled from events; poison goes to dead.
func NewStatements(store StatementStore, events projection.EventReader, dead *projection.DeadLetters, log *slog.Logger) *projection.Projection[StatementState] {
	return projection.New(StatementsView, app.AccountCategory, statementModel{store}, events, dead, log)
}

// StatementState is what the statement view folds an account stream into:
// the head after the last event, and the days changed since the head was
// loaded, each with the head as it stood after the day's last movement, so
// that more days than one write holds are saved in several writes, each
// leaving a head the stream really had.
type StatementState struct {
	Head    StatementHead
	Changed []StatementStep
}

// StatementStep is one changed day and the head right after it.
type StatementStep struct {
	Day  StatementDay
	Head StatementHead
}

// statementTypes are the event types the statement view folds; any other
// type on an account stream only advances the position.
var statementTypes = map[string]bool{
	account.TypeAccountOpened:    true,
	account.TypeMoneyDeposited:   true,
	account.TypeMoneyWithdrawn:   true,
	account.TypeTransferOutBegun: true,
	account.TypeTransferOutEnded: true,
}

// Kinds of a statement movement: which sum of its day it goes to.
const (
	movementDeposit     = "deposit"
	movementWithdrawal  = "withdrawal"
	movementTransferIn  = "transferIn"
	movementTransferOut = "transferOut"
	movementRefund      = "refund"
)

type statementModel struct{ store StatementStore }

func (m statementModel) Load(ctx context.Context, stream eventstore.StreamID) (StatementState, projection.Position, error) {
	h, _, err := m.store.Head(ctx, stream.Tenant, stream.ID)
	return StatementState{Head: h}, h.Position, err
}

// Fold never changes s: the engine keeps the state before an event to
// store with a quarantine.
func (statementModel) Fold(s StatementState, e projection.Event) (StatementState, error) {
	if !statementTypes[e.Type] {
		return s, nil
	}
	ev, err := projection.Decoded(e, app.Decode)
	if err != nil {
		return s, err
	}
	switch ev := ev.(type) {
	case account.AccountOpened:
		s.Head.Currency = ev.Currency
	case account.TransferOutBegun:
		if !slices.Contains(s.Head.InFlight, ev.TransferID) {
			s.Head.InFlight = slices.Sorted(slices.Values(append(slices.Clip(s.Head.InFlight), ev.TransferID)))
		}
	case account.TransferOutEnded:
		s.Head.InFlight = slices.DeleteFunc(slices.Clone(s.Head.InFlight), func(id string) bool { return id == ev.TransferID })
	case account.MoneyDeposited:
		kind := movementDeposit
		switch {
		case ev.TransferID == "":
		case slices.Contains(s.Head.InFlight, ev.TransferID):
			kind = movementRefund
		default:
			kind = movementTransferIn
		}
		return s.move(e.Event, kind, ev.Amount, ev.BalanceAfter)
	case account.MoneyWithdrawn:
		kind := movementWithdrawal
		if ev.TransferID != "" {
			kind = movementTransferOut
		}
		return s.move(e.Event, kind, ev.Amount, ev.BalanceAfter)
	default:
		return s, fmt.Errorf("event type %s decoded as %T", e.Type, ev)
	}
	if len(s.Head.InFlight) == 0 {
		s.Head.InFlight = nil
	}
	return s, nil
}

// move adds a movement to its day: the head's last day if the movement was
// recorded on it, else a new day that opens at the last one's closing.
func (s StatementState) move(e eventstore.Event, kind string, amount, balanceAfter int64) (StatementState, error) {
	date := e.RecordedAt.UTC().Format(DateLayout)
	day := s.Head.Last
	switch {
	case day.Date == date:
	case day.Date < date:
		day = StatementDay{Date: date, Opening: day.Closing, FirstVersion: e.Version}
	default:
		// recordedAt never goes backwards within a stream (docs/eventstore.md).
		return s, fmt.Errorf("recorded on %s, before the account's last statement day %s", date, day.Date)
	}
	sum := day.sum(kind)
	if amount < 0 || *sum > math.MaxInt64-amount {
		// The ledger records no such amount; a wrapped sum would be a
		// wrong statement.
		return s, fmt.Errorf("a %s of %d on %s does not add to the day's %d", kind, amount, date, *sum)
	}
	*sum += amount
	day.Closing, day.LastVersion, day.Movements = balanceAfter, e.Version, day.Movements+1
	s.Head.Last = day
	s.Head.Position = projection.Position{Version: e.Version, UpdatedAt: e.RecordedAt.UTC()}
	step := StatementStep{Day: day, Head: s.Head}
	if n := len(s.Changed); n > 0 && s.Changed[n-1].Day.Date == date {
		s.Changed = append(slices.Clip(s.Changed[:n-1]), step)
	} else {
		s.Changed = append(slices.Clip(s.Changed), step)
	}
	return s, nil
}

// sum is the day's sum of one kind of movement.
func (d *StatementDay) sum(kind string) *int64 {
	switch kind {
	case movementDeposit:
		return &d.Deposits
	case movementWithdrawal:
		return &d.Withdrawals
	case movementTransferIn:
		return &d.TransfersIn
	case movementTransferOut:
		return &d.TransfersOut
	}
	return &d.Refunds
}

// Save writes the changed days with the head at pos, in writes of up to
// MaxStatementDays days; each but the last moves the head to where it
// stood after its last day, so that a failure between two leaves a head
// that a retry resumes from.
func (m statementModel) Save(ctx context.Context, stream eventstore.StreamID, s StatementState, pos projection.Position, expected int64) error {
	changed := s.Changed
	for len(changed) > MaxStatementDays {
		chunk := changed[:MaxStatementDays]
		head := chunk[len(chunk)-1].Head
		if err := m.store.SaveDays(ctx, stream.Tenant, stream.ID, days(chunk), head, expected); err != nil {
			return err
		}
		changed, expected = changed[MaxStatementDays:], head.Position.Version
	}
	head := s.Head
	head.Position = pos
	return m.store.SaveDays(ctx, stream.Tenant, stream.ID, days(changed), head, expected)
}

// Kept is the head as saved, at pos, without the days it wrote.
func (statementModel) Kept(s StatementState, pos projection.Position) StatementState {
	head := s.Head
	head.Position = pos
	return StatementState{Head: head}
}

func days(steps []StatementStep) []StatementDay {
	out := make([]StatementDay, len(steps))
	for i, s := range steps {
		out[i] = s.Day
	}
	return out
}

// checkDays refuses days that break SaveDays' contract: a bug in the
// caller, never a reason to write some of them.
func checkDays(tenant, accountID string, days []StatementDay, head StatementHead, expected int64) error {
	if len(days) > MaxStatementDays {
		return fmt.Errorf("%d statement days of %s#%s in one write, over %d", len(days), tenant, accountID, MaxStatementDays)
	}
	last := ""
	for _, d := range days {
		if _, err := time.Parse(DateLayout, d.Date); err != nil || d.Date <= last {
			return fmt.Errorf("statement day %q of %s#%s is not a date after %q", d.Date, tenant, accountID, last)
		}
		if d.LastVersion <= expected || d.LastVersion > head.Position.Version || d.FirstVersion < 1 || d.FirstVersion > d.LastVersion {
			return fmt.Errorf("statement day %s of %s#%s covers versions %d to %d, not within %d to %d",
				d.Date, tenant, accountID, d.FirstVersion, d.LastVersion, expected+1, head.Position.Version)
		}
		last = d.Date
	}
	if n := len(days); n > 0 && days[n-1] != head.Last {
		return fmt.Errorf("the last statement day of %s#%s written, %s, is not the head's last day %q", tenant, accountID, days[n-1].Date, head.Last.Date)
	}
	return nil
}

func cloneHead(h StatementHead) StatementHead {
	h.Position = clonePosition(h.Position)
	h.Position.UpdatedAt = h.Position.UpdatedAt.UTC()
	h.InFlight = slices.Clone(h.InFlight)
	return h
}
