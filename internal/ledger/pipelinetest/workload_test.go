package pipelinetest

import (
	"fmt"
	"math/rand/v2"

	"annals/internal/ledger/account"
)

// currencies are drawn for new accounts; their minor units differ, which
// nothing downstream may care about.
var currencies = []account.Currency{"EUR", "USD", "JPY", "BHD"}

// nextCommand draws a command for an account in state s, as a client that
// mostly knows the account would send it: mostly valid, sometimes refused
// (insufficient funds, a close with money left, anything after a close,
// an amount of zero), so that refusals are part of every run.
func nextCommand(rng *rand.Rand, s account.Account, id, owner string) account.Command {
	if s.Status == account.StatusNone {
		return account.Open{
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
		return account.Deposit{Amount: rng.Int64N(1000), Reference: ref} // 0 is refused
	case r < 13:
		// Up to a little beyond what the account can give.
		return account.Withdraw{Amount: 1 + rng.Int64N(max(s.Balance, 0)+s.OverdraftLimit+200), Reference: ref}
	case r < 15:
		if s.Balance > 0 {
			return account.Withdraw{Amount: s.Balance, Reference: "empty"}
		}
		if s.Balance < 0 {
			return account.Deposit{Amount: -s.Balance, Reference: "settle"}
		}
		return account.Close{}
	case r < 17:
		return account.Close{}
	default:
		return transferCommand(rng, s)
	}
}

// transferCommand is one of the steps a transfer out takes on the account:
// begin, the debit leg, the end, or a credit leg of a transfer in.
func transferCommand(rng *rand.Rand, s account.Account) account.Command {
	id := fmt.Sprint("tr-", rng.IntN(4))
	switch rng.IntN(4) {
	case 0:
		return account.BeginTransferOut{TransferID: id, Amount: 1 + rng.Int64N(300)}
	case 1:
		if amount, ok := s.TransfersInFlight[id]; ok {
			return account.Withdraw{Amount: amount, TransferID: id, Reference: "transfer " + id}
		}
		return account.Withdraw{Amount: 1 + rng.Int64N(300), TransferID: id}
	case 2:
		return account.EndTransferOut{TransferID: id}
	default:
		return account.Deposit{Amount: 1 + rng.Int64N(300), TransferID: id, Reference: "transfer " + id}
	}
}
