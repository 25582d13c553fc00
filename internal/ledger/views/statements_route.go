package views

import (
	"context"
	"fmt"
	"time"

	"annals/internal/kit/httpapi"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// StatementsPath is the statement route's path.
const StatementsPath = "/accounts/{id}/statements"

// MaxStatementRange is how many days one statement covers at most, both
// ends included: a year, leap or not, in one bounded answer (a day is a
// few hundred bytes), so the route needs no cursor.
const MaxStatementRange = 366

// statementBody is a statement's JSON: the account, the range asked for,
// the balance before and after it, the view's position (as the account
// view's version and updatedAt), and the days of the range with a
// movement, oldest first.
type statementBody struct {
	AccountID      string             `json:"accountId"`
	Currency       string             `json:"currency"`
	From           string             `json:"from"`
	To             string             `json:"to"`
	OpeningBalance int64              `json:"openingBalance"`
	ClosingBalance int64              `json:"closingBalance"`
	Version        int64              `json:"version"`
	UpdatedAt      string             `json:"updatedAt"`
	Days           []statementDayBody `json:"days"`
}

// statementDayBody is one day of a statement's JSON.
type statementDayBody struct {
	Date           string `json:"date"`
	OpeningBalance int64  `json:"openingBalance"`
	Deposits       int64  `json:"deposits"`
	Withdrawals    int64  `json:"withdrawals"`
	TransfersIn    int64  `json:"transfersIn"`
	TransfersOut   int64  `json:"transfersOut"`
	Refunds        int64  `json:"refunds"`
	ClosingBalance int64  `json:"closingBalance"`
	Movements      int64  `json:"movements"`
	FirstVersion   int64  `json:"firstVersion"`
	LastVersion    int64  `json:"lastVersion"`
}

// StatementRoute serves GET /accounts/{id}/statements?from=YYYY-MM-DD&to=YYYY-MM-DD
// from store: the account's days from from to to, both included, as the
// view has applied them.
func StatementRoute(store StatementStore) Route {
	return Route{
		Path:   StatementsPath,
		Params: []string{"from", "to"},
		Serve: func(ctx context.Context, r Request) (any, error) {
			return statement(ctx, store, r)
		},
	}
}

func statement(ctx context.Context, store StatementStore, r Request) (any, error) {
	from, to, p := statementRange(r)
	if p != nil {
		return nil, p
	}
	stream, err := app.AccountStream(r.Tenant, r.Path["id"])
	if err != nil {
		// No account can have this id.
		return nil, httpapi.NewProblem(httpapi.KindNotFound, "no account with this id")
	}
	head, found, err := store.Head(ctx, stream.Tenant, stream.ID)
	if err != nil {
		return nil, err
	}
	if !found || head.Currency == "" {
		// As the account view: an account the view has not seen opened
		// (or whose stream stopped before it) is not one.
		return nil, fmt.Errorf("statement view %s: %w", stream, account.ErrAccountNotFound)
	}
	days, err := store.Days(ctx, stream.Tenant, stream.ID, from, to)
	if err != nil {
		return nil, err
	}
	body := statementBody{
		AccountID: stream.ID, Currency: string(head.Currency), From: from, To: to,
		Version: head.Position.Version, UpdatedAt: head.Position.UpdatedAt.UTC().Format(time.RFC3339Nano),
		Days: make([]statementDayBody, len(days)),
	}
	if len(days) > 0 {
		body.OpeningBalance, body.ClosingBalance = days[0].Opening, days[len(days)-1].Closing
	} else {
		// No movement in the range: the balance throughout is the one the
		// last day before it closed at.
		before, _, err := store.DayBefore(ctx, stream.Tenant, stream.ID, from)
		if err != nil {
			return nil, err
		}
		body.OpeningBalance, body.ClosingBalance = before.Closing, before.Closing
	}
	for i, d := range days {
		body.Days[i] = statementDayBody{
			Date: d.Date, OpeningBalance: d.Opening, Deposits: d.Deposits, Withdrawals: d.Withdrawals,
			TransfersIn: d.TransfersIn, TransfersOut: d.TransfersOut, Refunds: d.Refunds,
			ClosingBalance: d.Closing, Movements: d.Movements, FirstVersion: d.FirstVersion, LastVersion: d.LastVersion,
		}
	}
	return body, nil
}

// statementRange checks from and to, every problem at once.
func statementRange(r Request) (from, to string, p *httpapi.Problem) {
	var bad []httpapi.FieldError
	date := func(name string) (time.Time, bool) {
		s := r.Query.Get(name)
		if s == "" {
			bad = append(bad, httpapi.FieldError{Field: name, Message: "is required: a day as YYYY-MM-DD (UTC)"})
			return time.Time{}, false
		}
		d, err := time.Parse(DateLayout, s)
		if err != nil || d.Format(DateLayout) != s {
			bad = append(bad, httpapi.FieldError{Field: name, Message: "must be a day as YYYY-MM-DD (UTC)"})
			return time.Time{}, false
		}
		return d, true
	}
	f, fok := date("from")
	t, tok := date("to")
	switch {
	case !fok || !tok:
	case t.Before(f):
		bad = append(bad, httpapi.FieldError{Field: "to", Message: "must not be before from"})
	case t.Sub(f) >= MaxStatementRange*24*time.Hour:
		bad = append(bad, httpapi.FieldError{Field: "to", Message: fmt.Sprintf("must be within %d days of from, both included", MaxStatementRange)})
	}
	if len(bad) > 0 {
		return "", "", httpapi.Invalid(bad...)
	}
	return f.Format(DateLayout), t.Format(DateLayout), nil
}
