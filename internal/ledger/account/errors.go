package account

import (
	"iter"
	"strings"
)

// Refusal is a command the ledger refuses by one of its rules. Kind is the
// stable name clients branch on (the HTTP API's problem type), Status the
// HTTP status that says what kind of refusal it is, Title a short summary
// and Detail the rule in words. Callers branch on the values below with
// errors.Is; Decide returns them unwrapped, and callers add the operation
// and ids.
type Refusal struct {
	Kind   string
	Status int
	Title  string
	Detail string
}

func (r *Refusal) Error() string { return r.Title }

// Problem names what a client is told (see httpapi.Refusal).
func (r *Refusal) Problem() (kind string, status int, title, detail string) {
	return r.Kind, r.Status, r.Title, r.Detail
}

// The ledger's refusals. 404: no such account; 409: the account exists;
// 422: the command breaks a rule of the account as it stands.
var (
	ErrAccountNotFound   = &Refusal{"not-found", 404, "No such resource", "no account with this id"}
	ErrAccountExists     = &Refusal{"account-exists", 409, "The account already exists", ""}
	ErrAccountClosed     = &Refusal{"account-closed", 422, "The account is closed", "a closed account accepts no commands"}
	ErrInsufficientFunds = &Refusal{"insufficient-funds", 422, "Insufficient funds", "the withdrawal would take the balance below the overdraft limit"}
	ErrAccountNotEmpty   = &Refusal{"account-not-empty", 422, "The account balance is not zero", "only an account with a zero balance can close"}
	ErrTransfersInFlight = &Refusal{"transfers-in-flight", 422, "The account has transfers in flight", "the account can close once its transfers have settled"}
	ErrOverflow          = &Refusal{"amount-overflow", 422, "The balance would overflow", ""}
	ErrBalanceLimit      = &Refusal{"balance-limit", 422, "The balance would pass its limit", "a balance stays within plus or minus 9007199254740991 minor units (2^53-1), which every JSON client reads exactly"}
	ErrVersionNotFound   = &Refusal{"version-not-found", 404, "No such version", "the account has no such version"}
	// 410: a closed account archived after its retention period; its
	// history still reads.
	ErrAccountArchived = &Refusal{"account-archived", 410, "The account is archived", "a closed account whose history was archived accepts no commands; its history still reads"}
	// The account's data subject was erased: nothing personal about them
	// can be recorded any more (an opening, a reference, a counterparty).
	ErrSubjectErased = &Refusal{"data-subject-erased", 422, "The data subject was erased", "the personal data of this account's data subject was erased; a command can record none of it"}
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

// InvalidFields yields each invalid field and what is wrong with it (see
// httpapi.Invalidity).
func (e *ValidationError) InvalidFields() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, f := range e.Fields {
			if !yield(f.Field, f.Message) {
				return
			}
		}
	}
}
