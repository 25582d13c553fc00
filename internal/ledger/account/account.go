package account

import "maps"

// FoldLogicVersion identifies what Evolve computes. Snapshots are keyed by it:
// bump it whenever Evolve would compute a different state from the same
// events (or Account's JSON changes), so that snapshots taken by the old logic
// are ignored and rebuilt by replay instead of being trusted. The golden test
// in fold_golden_test.go fails when Evolve changes without a bump.
const FoldLogicVersion = 2 // 2 added the data subject

// Status is where an account is in its life.
type Status string

const (
	StatusNone   Status = "" // not opened yet
	StatusOpen   Status = "open"
	StatusClosed Status = "closed"
)

// Account is the state an account's events fold into: what Decide needs to
// judge the next command. Its version is not here: the event store tracks it.
//
// Its JSON is what snapshots store, so it must be deterministic: encoding/json
// writes map keys sorted, and an empty TransfersInFlight is always nil.
type Account struct {
	ID             string   `json:"accountId"`
	DataSubject    string   `json:"dataSubject,omitempty"`
	Owner          string   `json:"owner"`
	OwnerIndex     string   `json:"ownerIndex,omitempty"`
	Currency       Currency `json:"currency"`
	OverdraftLimit int64    `json:"overdraftLimit"`
	Balance        int64    `json:"balance"`
	Status         Status   `json:"status"`
	// TransfersInFlight maps the id of each transfer out that has begun and not
	// ended to its amount.
	TransfersInFlight map[string]int64 `json:"transfersInFlight,omitempty"`
}

// Evolve returns the state after e. It trusts recorded history: every event
// was accepted by Decide against the state before it, so there is nothing to
// refuse, and Evolve is total. An event type it does not know leaves the state
// as it is.
//
// It never modifies s's map, so a caller may keep the previous state.
func Evolve(s Account, e Event) Account {
	switch e := e.(type) {
	case AccountOpened:
		return Account{
			ID:             e.AccountID,
			DataSubject:    e.DataSubject,
			Owner:          e.Owner,
			OwnerIndex:     e.OwnerIndex,
			Currency:       e.Currency,
			OverdraftLimit: e.OverdraftLimit,
			Status:         StatusOpen,
		}
	case MoneyDeposited:
		s.Balance = e.BalanceAfter
	case MoneyWithdrawn:
		s.Balance = e.BalanceAfter
	case AccountClosed:
		s.Status = StatusClosed
	case TransferOutBegun:
		m := maps.Clone(s.TransfersInFlight)
		if m == nil {
			m = make(map[string]int64, 1)
		}
		m[e.TransferID] = e.Amount
		s.TransfersInFlight = m
	case TransferOutEnded:
		if _, ok := s.TransfersInFlight[e.TransferID]; !ok {
			break
		}
		m := maps.Clone(s.TransfersInFlight)
		delete(m, e.TransferID)
		if len(m) == 0 {
			m = nil
		}
		s.TransfersInFlight = m
	}
	return s
}

// Fold returns the state after all events, starting from no account.
func Fold(events []Event) Account {
	var s Account
	for _, e := range events {
		s = Evolve(s, e)
	}
	return s
}
