package httpapi

import (
	"errors"
	"fmt"
	"iter"

	"annals/internal/kit/eventstore"
)

// Refusal is an error a domain lets its clients see as it is: its own
// problem type, status, title and detail. The core knows no domain; a
// domain's refusals reach HTTP through this method alone.
type Refusal interface {
	error
	Problem() (kind string, status int, title, detail string)
}

// Invalidity is an error that lists invalid fields (named as the client
// sent them) and what is wrong with each: a validation problem.
type Invalidity interface {
	error
	InvalidFields() iter.Seq2[string, string]
}

// ProblemFor is the one mapping from an error to what the client sees: a
// Problem as it is, a domain's Refusal or Invalidity, the store's and AWS's
// own failures. Anything else is an internal error whose detail stays in
// the logs: no internal message or stack trace ever leaves the API.
func ProblemFor(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var inv Invalidity
	if errors.As(err, &inv) {
		var fields []FieldError
		for f, m := range inv.InvalidFields() {
			fields = append(fields, FieldError{Field: f, Message: m})
		}
		return Invalid(fields...)
	}
	var r Refusal
	if errors.As(err, &r) {
		kind, status, title, detail := r.Problem()
		return &Problem{Kind: kind, Type: ProblemTypePrefix + kind, Title: title, Status: status, Detail: detail}
	}
	var ahead *eventstore.SchemaTooNewError
	if errors.As(err, &ahead) {
		// A newer deployment wrote it and this one is behind: nothing the
		// client sent is wrong, and once the newer code serves the request
		// succeeds. A command that meets one changes nothing.
		p := NewProblem(KindSchemaAhead, fmt.Sprintf("an event of type %s is at schema version %d, this deployment reads up to %d", ahead.Type, ahead.Version, ahead.Readable))
		p.RetryAfter = 30
		return p
	}
	var tl *eventstore.TooLargeError
	if errors.As(err, &tl) {
		return NewProblem(KindPayloadTooLarge, fmt.Sprintf("the events would take %d bytes, over the %d-byte limit of one commit", tl.Size, tl.Limit))
	}
	switch {
	case errors.Is(err, eventstore.ErrNotFound):
		return NewProblem(KindNotFound, "")
	case errors.Is(err, eventstore.ErrVersionNotFound):
		return NewProblem(KindVersionNotFound, "no such version")
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
