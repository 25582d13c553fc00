package account

import (
	"errors"
	"strings"
)

// Errors callers branch on, for instance to choose an HTTP status. Decide
// returns them unwrapped; callers add the operation and ids.
var (
	ErrAccountNotFound   = errors.New("account not found")
	ErrAccountExists     = errors.New("account already exists")
	ErrAccountClosed     = errors.New("account is closed")
	ErrInsufficientFunds = errors.New("insufficient funds")
	ErrAccountNotEmpty   = errors.New("account balance is not zero")
	ErrTransfersInFlight = errors.New("account has transfers in flight")
	ErrOverflow          = errors.New("balance would overflow")
)

// FieldError is one invalid field of a command, named as in the HTTP API's
// JSON so that it can be shown to the client as it is.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every invalid field of a command at once, so that a
// client fixes its request in one round trip instead of one per field.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid command: ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(" ")
		b.WriteString(f.Message)
	}
	return b.String()
}
