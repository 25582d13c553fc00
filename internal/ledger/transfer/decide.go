package transfer

import (
	"annals/internal/ledger/account"
)

// Request is a transfer as a client asks for it.
type Request struct {
	TransferID    string
	FromAccountID string
	ToAccountID   string
	Amount        int64
	Reference     string
}

// AccountError says which of the two accounts refused a request, and why
// (an account refusal: not found, closed).
type AccountError struct {
	Field string // fromAccountId or toAccountId
	Err   *account.Refusal
}

func (e *AccountError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *AccountError) Unwrap() error { return e.Err }

// Problem is the account's refusal, naming the account by its field.
func (e *AccountError) Problem() (kind string, status int, title, detail string) {
	kind, status, title, _ = e.Err.Problem()
	switch e.Err {
	case account.ErrAccountNotFound:
		detail = "no account with the id in " + e.Field
	default:
		detail = "the account in " + e.Field + " is closed"
	}
	return kind, status, title, detail
}

// Validate checks what a request says on its own, every field at once, by
// the ledger's rules for text and amounts.
func Validate(r Request) error {
	var v account.Validator
	v.Text("transferId", r.TransferID, true)
	v.Text("fromAccountId", r.FromAccountID, true)
	v.Text("toAccountId", r.ToAccountID, true)
	v.Text("reference", r.Reference, false)
	v.Amount("amount", r.Amount, 1)
	if r.FromAccountID != "" && r.FromAccountID == r.ToAccountID {
		v.Add("toAccountId", "must differ from fromAccountId")
	}
	return v.Err()
}

// Decide checks a request against both accounts as they are now: both
// exist and are open, and hold the same currency. What it cannot see (the
// balance when the debit comes, a closing in between) the process manager
// judges later, and a transfer it refuses then ends failed.
func Decide(from, to account.Account, r Request) (Requested, error) {
	if err := Validate(r); err != nil {
		return Requested{}, err
	}
	for _, a := range []struct {
		field string
		acc   account.Account
	}{{"fromAccountId", from}, {"toAccountId", to}} {
		switch a.acc.Status {
		case account.StatusNone:
			return Requested{}, &AccountError{Field: a.field, Err: account.ErrAccountNotFound}
		case account.StatusClosed:
			return Requested{}, &AccountError{Field: a.field, Err: account.ErrAccountClosed}
		}
	}
	if from.Currency != to.Currency {
		return Requested{}, &account.ValidationError{Fields: []account.FieldError{{
			Field: "toAccountId", Message: "must hold the same currency as fromAccountId (" + string(from.Currency) + ")",
		}}}
	}
	return Requested{
		TransferID: r.TransferID, FromAccountID: r.FromAccountID, ToAccountID: r.ToAccountID,
		Amount: r.Amount, Currency: from.Currency, Reference: r.Reference,
	}, nil
}
