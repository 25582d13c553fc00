package httpapi

import (
	"errors"
	"fmt"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/account"
)

// ProblemFor is the one mapping from an error to what the client sees.
// Anything it does not know is an internal error whose detail stays in the
// logs: no internal message or stack trace ever leaves the API.
func ProblemFor(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var ve *account.ValidationError
	if errors.As(err, &ve) {
		fields := make([]FieldError, len(ve.Fields))
		for i, f := range ve.Fields {
			fields[i] = FieldError{Field: f.Field, Message: f.Message}
		}
		return Invalid(fields...)
	}
	var tl *eventstore.TooLargeError
	if errors.As(err, &tl) {
		return NewProblem(KindPayloadTooLarge, fmt.Sprintf("the events would take %d bytes, over the %d-byte limit of one commit", tl.Size, tl.Limit))
	}
	switch {
	case errors.Is(err, account.ErrAccountNotFound), errors.Is(err, eventstore.ErrNotFound):
		return NewProblem(KindNotFound, "no account with this id")
	case errors.Is(err, eventstore.ErrVersionNotFound):
		return NewProblem(KindVersionNotFound, "the account has no such version")
	case errors.Is(err, account.ErrAccountExists):
		return NewProblem(KindAccountExists, "")
	case errors.Is(err, account.ErrInsufficientFunds):
		return NewProblem(KindInsufficientFunds, "the withdrawal would take the balance below the overdraft limit")
	case errors.Is(err, account.ErrAccountClosed):
		return NewProblem(KindAccountClosed, "a closed account accepts no commands")
	case errors.Is(err, account.ErrAccountNotEmpty):
		return NewProblem(KindAccountNotEmpty, "only an account with a zero balance can close")
	case errors.Is(err, account.ErrTransfersInFlight):
		return NewProblem(KindTransfersInFlight, "the account can close once its transfers have settled")
	case errors.Is(err, account.ErrOverflow):
		return NewProblem(KindAmountOverflow, "")
	case errors.Is(err, eventstore.ErrConflict):
		return NewProblem(KindConflict, "")
	case errors.Is(err, eventstore.ErrThrottled):
		p := NewProblem(KindThrottled, "nothing was changed")
		p.RetryAfter = 1
		return p
	case errors.Is(err, eventstore.ErrUnavailable):
		p := NewProblem(KindUnavailable, "nothing was changed")
		p.RetryAfter = 1
		return p
	case errors.Is(err, eventstore.ErrUnknownOutcome):
		p := NewProblem(KindOutcomeUnknown, "the change may or may not have been applied")
		p.RetryAfter = 1
		return p
	}
	return NewProblem(KindInternal, "")
}
