package transfer

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"annals/internal/ledger"
)

// maxTextBytes bounds ids and the reference, as the ledger does.
const maxTextBytes = 200

// Request is a transfer as a client asks for it.
type Request struct {
	TransferID    string
	FromAccountID string
	ToAccountID   string
	Amount        int64
	Reference     string
}

// AccountError says which of the two accounts refused a request, and why
// (a ledger sentinel: not found, closed).
type AccountError struct {
	Field string // fromAccountId or toAccountId
	Err   error
}

func (e *AccountError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *AccountError) Unwrap() error { return e.Err }

// Validate checks what a request says on its own, every field at once.
func Validate(r Request) error {
	var fields []ledger.FieldError
	add := func(f, m string) { fields = append(fields, ledger.FieldError{Field: f, Message: m}) }
	text := func(f, s string, required bool) {
		switch {
		case s == "":
			if required {
				add(f, "is required")
			}
		case len(s) > maxTextBytes:
			add(f, "must be at most "+strconv.Itoa(maxTextBytes)+" bytes")
		case !utf8.ValidString(s):
			add(f, "must be valid UTF-8")
		case strings.ContainsFunc(s, unicode.IsControl):
			add(f, "must not contain control characters")
		}
	}
	text("transferId", r.TransferID, true)
	text("fromAccountId", r.FromAccountID, true)
	text("toAccountId", r.ToAccountID, true)
	text("reference", r.Reference, false)
	switch {
	case r.Amount < 1:
		add("amount", "must be at least 1")
	case r.Amount > ledger.MaxAmount:
		add("amount", "must be at most "+strconv.FormatInt(ledger.MaxAmount, 10))
	}
	if r.FromAccountID != "" && r.FromAccountID == r.ToAccountID {
		add("toAccountId", "must differ from fromAccountId")
	}
	if len(fields) > 0 {
		return &ledger.ValidationError{Fields: fields}
	}
	return nil
}

// Decide checks a request against both accounts as they are now: both
// exist and are open, and hold the same currency. What it cannot see (the
// balance when the debit comes, a closing in between) the process manager
// judges later, and a transfer it refuses then ends failed.
func Decide(from, to ledger.Account, r Request) (Requested, error) {
	if err := Validate(r); err != nil {
		return Requested{}, err
	}
	for _, a := range []struct {
		field string
		acc   ledger.Account
	}{{"fromAccountId", from}, {"toAccountId", to}} {
		switch a.acc.Status {
		case ledger.StatusNone:
			return Requested{}, &AccountError{Field: a.field, Err: ledger.ErrAccountNotFound}
		case ledger.StatusClosed:
			return Requested{}, &AccountError{Field: a.field, Err: ledger.ErrAccountClosed}
		}
	}
	if from.Currency != to.Currency {
		return Requested{}, &ledger.ValidationError{Fields: []ledger.FieldError{{
			Field: "toAccountId", Message: "must hold the same currency as fromAccountId (" + string(from.Currency) + ")",
		}}}
	}
	return Requested{
		TransferID: r.TransferID, FromAccountID: r.FromAccountID, ToAccountID: r.ToAccountID,
		Amount: r.Amount, Currency: from.Currency, Reference: r.Reference,
	}, nil
}

// reasonFor names why the ledger refused a step, or "" for an error that is
// not a refusal (and is worth a retry).
func reasonFor(err error) string {
	var ve *ledger.ValidationError
	switch {
	case errors.Is(err, ledger.ErrInsufficientFunds):
		return ReasonInsufficientFunds
	case errors.Is(err, ledger.ErrAccountClosed):
		return ReasonAccountClosed
	case errors.Is(err, ledger.ErrAccountNotFound):
		return ReasonAccountNotFound
	case errors.Is(err, ledger.ErrOverflow):
		return ReasonAmountOverflow
	case errors.As(err, &ve):
		return ReasonInvalid
	}
	return ""
}
