package pipelinetest

import (
	"fmt"
	"math/rand/v2"

	"annals/internal/ledger"
)

// currencies are drawn for new accounts; their minor units differ, which
// nothing downstream may care about.
var currencies = []ledger.Currency{"EUR", "USD", "JPY", "BHD"}

// nextCommand draws a command for an account in state s, as a client that
// mostly knows the account would send it: mostly valid, sometimes refused
// (insufficient funds, a close with money left, anything after a close,
// an amount of zero), so that refusals are part of every run.
func nextCommand(rng *rand.Rand, s ledger.Account, id, owner string) ledger.Command {
	if s.Status == ledger.StatusNone {
		return ledger.Open{
			AccountID: id, Owner: owner, Currency: currencies[rng.IntN(len(currencies))],
			OverdraftLimit: rng.Int64N(3) * rng.Int64N(500), // none a third of the time
		}
	}
	ref := fmt.Sprint("ref-", rng.IntN(1000))
	if rng.IntN(8) == 0 {
		ref = "" // the reference is optional
	}
	switch r := rng.IntN(20); {
	case r < 8:
		return ledger.Deposit{Amount: rng.Int64N(1000), Reference: ref} // 0 is refused
	case r < 13:
		// Up to a little beyond what the account can give.
		return ledger.Withdraw{Amount: 1 + rng.Int64N(max(s.Balance, 0)+s.OverdraftLimit+200), Reference: ref}
	case r < 15:
		if s.Balance > 0 {
			return ledger.Withdraw{Amount: s.Balance, Reference: "empty"}
		}
		if s.Balance < 0 {
			return ledger.Deposit{Amount: -s.Balance, Reference: "settle"}
		}
		return ledger.Close{}
	case r < 17:
		return ledger.Close{}
	default:
		return transferCommand(rng, s)
	}
}

// transferCommand is one of the steps a transfer out takes on the account:
// begin, the debit leg, the end, or a credit leg of a transfer in.
func transferCommand(rng *rand.Rand, s ledger.Account) ledger.Command {
	id := fmt.Sprint("tr-", rng.IntN(4))
	switch rng.IntN(4) {
	case 0:
		return ledger.BeginTransferOut{TransferID: id, Amount: 1 + rng.Int64N(300)}
	case 1:
		if amount, ok := s.TransfersInFlight[id]; ok {
			return ledger.Withdraw{Amount: amount, TransferID: id, Reference: "transfer " + id}
		}
		return ledger.Withdraw{Amount: 1 + rng.Int64N(300), TransferID: id}
	case 2:
		return ledger.EndTransferOut{TransferID: id}
	default:
		return ledger.Deposit{Amount: 1 + rng.Int64N(300), TransferID: id, Reference: "transfer " + id}
	}
}
