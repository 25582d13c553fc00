package views_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/httpapi"
	"annals/internal/kit/httpapi/httpapitest"
	"annals/internal/kit/personal"
	"annals/internal/kit/projection"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/queryapi"
	"annals/internal/ledger/views"
)

// statementJSON is what GET /accounts/{id}/statements answers.
type statementJSON struct {
	AccountID      string `json:"accountId"`
	Currency       string `json:"currency"`
	From           string `json:"from"`
	To             string `json:"to"`
	OpeningBalance int64  `json:"openingBalance"`
	ClosingBalance int64  `json:"closingBalance"`
	Version        int64  `json:"version"`
	UpdatedAt      string `json:"updatedAt"`
	Days           []struct {
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
	} `json:"days"`
}

// problemJSON is a problem answer, with its field errors.
type problemJSON struct {
	Type   string               `json:"type"`
	Status int                  `json:"status"`
	Errors []httpapi.FieldError `json:"errors"`
}

// statementQueries is the query function over a ledger with the statement
// route, its view fed with every commit: account a of tenant acme, with
// movements on 2026-02-28, 2026-03-02 and 2026-03-05; account b without
// any; account q quarantined before its first event; and account z of
// another tenant.
func statementQueries(t *testing.T) *queryapi.Handler {
	t.Helper()
	l := newLedger()
	l.given(t, []step{
		{"a", "2026-02-27T18:00:00Z", []account.Event{opened("a")}},
		{"a", "2026-02-28T09:00:00Z", []account.Event{account.MoneyDeposited{Amount: 100, BalanceAfter: 100}}},
		{"a", "2026-03-02T09:00:00Z", []account.Event{account.MoneyDeposited{Amount: 50, BalanceAfter: 150}}},
		{"a", "2026-03-02T17:00:00Z", []account.Event{account.MoneyWithdrawn{Amount: 20, BalanceAfter: 130}}},
		{"a", "2026-03-05T10:00:00Z", []account.Event{account.TransferOutBegun{TransferID: "tr1", Amount: 30}, account.MoneyWithdrawn{Amount: 30, TransferID: "tr1", BalanceAfter: 100}}},
		{"b", "2026-03-01T10:00:00Z", []account.Event{opened("b")}},
	})
	store := views.NewMemoryStatements()
	view := views.NewStatements(store, l.events, projection.NewDeadLetters(&projection.LetterBox{}), slog.New(slog.DiscardHandler))
	for _, c := range l.commits {
		if err := view.Apply(t.Context(), c.Events); err != nil {
			t.Fatal(err)
		}
	}
	q, err := app.AccountStream(tenant, "q")
	if err != nil {
		t.Fatal(err)
	}
	if err := view.Quarantine(t.Context(), q, "the record does not decode"); err != nil {
		t.Fatal(err)
	}
	other := newLedger()
	other.tenant = "globex"
	other.given(t, []step{{"z", "2026-03-01T10:00:00Z", []account.Event{opened("z"), account.MoneyDeposited{Amount: 1, BalanceAfter: 1}}}})
	if err := view.Apply(t.Context(), other.commits[0].Events); err != nil {
		t.Fatal(err)
	}
	return queryapi.New(queryapi.Config{Vault: personal.NewVault(personal.NewMemoryKeys()),
		Store: l.events, Accounts: views.NewMemoryAccounts(), History: views.NewMemoryHistory(),
		Routes: []views.Route{views.StatementRoute(store)},
		NewID:  func() string { return "corr-statements" },
		Log:    slog.New(slog.DiscardHandler),
	})
}

func TestStatementRoute(t *testing.T) {
	h := statementQueries(t)
	type day struct {
		date                                                  string
		opening, closing, deposits, withdrawals, transfersOut int64
		movements, firstVersion, lastVersion                  int64
	}
	cases := []struct {
		name, method, path, query string
		scopes                    []string
		status                    int
		problem                   string
		fields                    []string // "field: message" of a validation problem
		opening, closing          int64
		days                      []day
	}{
		{name: "a month: the days with movements, between the balances before and after",
			path: "/accounts/a/statements", query: "from=2026-03-01&to=2026-03-31", status: 200, opening: 100, closing: 100,
			days: []day{
				{date: "2026-03-02", opening: 100, closing: 130, deposits: 50, withdrawals: 20, movements: 2, firstVersion: 3, lastVersion: 4},
				{date: "2026-03-05", opening: 130, closing: 100, transfersOut: 30, movements: 1, firstVersion: 6, lastVersion: 6},
			}},
		{name: "from before the account opened",
			path: "/accounts/a/statements", query: "from=2026-01-01&to=2026-02-28", status: 200, opening: 0, closing: 100,
			days: []day{{date: "2026-02-28", opening: 0, closing: 100, deposits: 100, movements: 1, firstVersion: 2, lastVersion: 2}}},
		{name: "one day, both ends included",
			path: "/accounts/a/statements", query: "to=2026-03-05&from=2026-03-05", status: 200, opening: 130, closing: 100,
			days: []day{{date: "2026-03-05", opening: 130, closing: 100, transfersOut: 30, movements: 1, firstVersion: 6, lastVersion: 6}}},
		{name: "days without movements: the balance the last day before closed at",
			path: "/accounts/a/statements", query: "from=2026-03-03&to=2026-03-04", status: 200, opening: 130, closing: 130},
		{name: "after the last movement",
			path: "/accounts/a/statements", query: "from=2026-04-01&to=2026-04-30", status: 200, opening: 100, closing: 100},
		{name: "an account without movements",
			path: "/accounts/b/statements", query: "from=2026-03-01&to=2026-03-31", status: 200},
		{name: "a leap year is one statement",
			path: "/accounts/a/statements", query: "from=2028-01-01&to=2028-12-31", status: 200, opening: 100, closing: 100},
		{name: "more than a year is not",
			path: "/accounts/a/statements", query: "from=2026-01-01&to=2027-01-02", status: 400, problem: httpapi.KindValidation,
			fields: []string{"to: must be within 366 days of from, both included"}},
		{name: "both ends are required",
			path: "/accounts/a/statements", status: 400, problem: httpapi.KindValidation,
			fields: []string{"from: is required: a day as YYYY-MM-DD (UTC)", "to: is required: a day as YYYY-MM-DD (UTC)"}},
		{name: "days that are not YYYY-MM-DD",
			path: "/accounts/a/statements", query: "from=2026-3-01&to=2026-02-30", status: 400, problem: httpapi.KindValidation,
			fields: []string{"from: must be a day as YYYY-MM-DD (UTC)", "to: must be a day as YYYY-MM-DD (UTC)"}},
		{name: "a time is not a day",
			path: "/accounts/a/statements", query: "from=2026-03-01T00:00:00Z&to=2026-03-02", status: 400, problem: httpapi.KindValidation,
			fields: []string{"from: must be a day as YYYY-MM-DD (UTC)"}},
		{name: "to before from",
			path: "/accounts/a/statements", query: "from=2026-03-02&to=2026-03-01", status: 400, problem: httpapi.KindValidation,
			fields: []string{"to: must not be before from"}},
		{name: "a parameter the route does not take",
			path: "/accounts/a/statements", query: "from=2026-03-01&to=2026-03-02&limit=5", status: 400, problem: httpapi.KindValidation,
			fields: []string{"limit: is not a parameter of this route (it takes from, to)"}},
		{name: "a parameter given twice",
			path: "/accounts/a/statements", query: "from=2026-03-01&from=2026-03-02&to=2026-03-02", status: 400, problem: httpapi.KindValidation,
			fields: []string{"from: is given more than once"}},
		{name: "a bad range is a 400 before an unknown account is a 404",
			path: "/accounts/nobody/statements", query: "from=2026-03-02&to=2026-03-01", status: 400, problem: httpapi.KindValidation,
			fields: []string{"to: must not be before from"}},
		{name: "an unknown account",
			path: "/accounts/nobody/statements", query: "from=2026-03-01&to=2026-03-31", status: 404, problem: httpapi.KindNotFound},
		{name: "an id no account can have",
			path: "/accounts/a#b/statements", query: "from=2026-03-01&to=2026-03-31", status: 404, problem: httpapi.KindNotFound},
		{name: "an account quarantined before its first event shows nothing",
			path: "/accounts/q/statements", query: "from=2026-03-01&to=2026-03-31", status: 404, problem: httpapi.KindNotFound},
		{name: "another tenant's account",
			path: "/accounts/z/statements", query: "from=2026-03-01&to=2026-03-31", status: 404, problem: httpapi.KindNotFound},
		{name: "without the read scope",
			path: "/accounts/a/statements", query: "from=2026-03-01&to=2026-03-31", scopes: []string{httpapi.ScopeWrite}, status: 403, problem: httpapi.KindForbidden},
		{name: "only GET",
			method: "POST", path: "/accounts/a/statements", query: "from=2026-03-01&to=2026-03-31", status: 405, problem: httpapi.KindMethodNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httpapitest.Request{Method: c.method, Path: c.path, Query: c.query, Subject: "reader", Tenant: tenant, Scopes: c.scopes}
			if req.Method == "" {
				req.Method = "GET"
			}
			if req.Scopes == nil {
				req.Scopes = []string{httpapi.ScopeRead}
			}
			resp, err := h.Handle(t.Context(), req.Event())
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, resp.Body)
			}
			// Past days never change: a client may keep them and revalidate.
			if want := map[bool]string{true: "private, no-cache", false: "no-store"}[resp.StatusCode == http.StatusOK]; resp.Headers["Cache-Control"] != want {
				t.Errorf("Cache-Control %q, want %q", resp.Headers["Cache-Control"], want)
			}
			if c.problem != "" {
				var p problemJSON
				if err := json.Unmarshal([]byte(resp.Body), &p); err != nil || p.Type != httpapi.ProblemTypePrefix+c.problem ||
					resp.Headers["Content-Type"] != "application/problem+json" {
					t.Fatalf("problem %s (%v, %s), want %s", resp.Body, err, resp.Headers["Content-Type"], c.problem)
				}
				var fields []string
				for _, f := range p.Errors {
					fields = append(fields, f.Field+": "+f.Message)
				}
				if !slices.Equal(fields, c.fields) {
					t.Errorf("field errors %q, want %q", fields, c.fields)
				}
				return
			}
			var got statementJSON
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
				t.Fatal(err)
			}
			from, to := c.query[strings.Index(c.query, "from=")+5:][:10], c.query[strings.Index(c.query, "to=")+3:][:10]
			id := strings.Split(c.path, "/")[2]
			if got.AccountID != id || got.Currency != "EUR" || got.From != from || got.To != to ||
				got.OpeningBalance != c.opening || got.ClosingBalance != c.closing || got.Days == nil {
				t.Errorf("statement %s, want %s in EUR from %s to %s, balances %d to %d, a list of days", resp.Body, id, from, to, c.opening, c.closing)
			}
			var days []day
			for _, d := range got.Days {
				if d.TransfersIn != 0 || d.Refunds != 0 {
					t.Errorf("day %+v: no transfer came in or back", d)
				}
				days = append(days, day{d.Date, d.OpeningBalance, d.ClosingBalance, d.Deposits, d.Withdrawals, d.TransfersOut, d.Movements, d.FirstVersion, d.LastVersion})
			}
			if !slices.Equal(days, c.days) {
				t.Errorf("days %+v, want %+v", days, c.days)
			}
			if resp.Headers["Content-Type"] != "application/json" || resp.Headers[httpapi.CorrelationHeader] == "" {
				t.Errorf("headers %v", resp.Headers)
			}
		})
	}

	// The view's position comes with the statement, as the account view's.
	resp, _ := h.Handle(t.Context(), httpapitest.Request{Method: "GET", Path: "/accounts/a/statements", Query: "from=2026-03-01&to=2026-03-01",
		Subject: "reader", Tenant: tenant, Scopes: []string{httpapi.ScopeRead}}.Event())
	var got statementJSON
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil || got.Version != 6 || got.UpdatedAt != "2026-03-05T10:00:00Z" {
		t.Errorf("statement %s (%v), want version 6 updated at 2026-03-05T10:00:00Z", resp.Body, err)
	}
}

// Whatever from and to hold, the route answers a statement of at most
// MaxStatementRange days in order, or a validation problem: never a
// panic, never another error.
func FuzzStatementRange(f *testing.F) {
	store := views.NewMemoryStatements()
	l := newLedger()
	l.given(f, []step{{"a", "2026-03-01T09:00:00Z", []account.Event{opened("a"), account.MoneyDeposited{Amount: 1, BalanceAfter: 1}}}})
	if err := views.NewStatements(store, l.events, nil, nil).Apply(context.Background(), l.commits[0].Events); err != nil {
		f.Fatal(err)
	}
	route := views.StatementRoute(store)
	for _, seed := range [][2]string{
		{"2026-03-01", "2026-03-31"}, {"2026-03-31", "2026-03-01"}, {"", ""}, {"2026-02-30", "2026-03-01"},
		{"0000-01-01", "9999-12-31"}, {"2026-03-01T00:00:00Z", "2026-03-01"}, {"+2026-03-01", "2026-03-01"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, from, to string) {
		body, err := route.Serve(context.Background(), views.Request{Tenant: tenant, Path: map[string]string{"id": "a"},
			Query: url.Values{"from": {from}, "to": {to}}})
		if err != nil {
			if p := httpapi.ProblemFor(err); p.Kind != httpapi.KindValidation {
				t.Fatalf("from %q to %q: %v, want a statement or a validation problem", from, to, err)
			}
			return
		}
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		var s statementJSON
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		start, ferr := time.Parse(views.DateLayout, s.From)
		end, terr := time.Parse(views.DateLayout, s.To)
		if ferr != nil || terr != nil || s.From != from || s.To != to || end.Before(start) || end.Sub(start) >= views.MaxStatementRange*24*time.Hour {
			t.Fatalf("from %q to %q answered a statement from %q to %q", from, to, s.From, s.To)
		}
	})
}
