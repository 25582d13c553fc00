package views_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/httpapi"
	"annals/internal/kit/personal"
	"annals/internal/kit/projection"
	"annals/internal/ledger/account"
	ledgerenv "annals/internal/ledger/env"
	"annals/internal/ledger/openapi/openapitest"
	"annals/internal/ledger/queryapi"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/lambdatest"
)

// The events/statements payloads are what `sam local invoke QueryFunction`
// feeds the statement route; here they are golden inputs with their
// expected answers. Every payload must be listed.
var statementPayloads = map[string]struct {
	status           int
	problem          string
	field            string // the invalid parameter
	opening, closing int64
	days             []string
}{
	"get-statements.json":                 {status: 200, opening: 1000, closing: 5050, days: []string{"2026-03-01", "2026-03-03"}},
	"get-statements-reversed-range.json":  {status: 400, problem: httpapi.KindValidation, field: "to"},
	"get-statements-too-long.json":        {status: 400, problem: httpapi.KindValidation, field: "to"},
	"get-statements-unknown-account.json": {status: 404, problem: httpapi.KindNotFound},
}

// seedStatements fills a statement view with what the payloads name:
// acc-demo-1 of tenant demo, opened with 1,000 on 2026-02-27; 5,000 in and
// 1,200 out on 2026-03-01; 250 in from transfer tr-demo-1 on 2026-03-03.
func seedStatements(t *testing.T, store views.StatementStore) {
	t.Helper()
	l := newLedger()
	l.tenant = "demo"
	l.given(t, []step{
		{"acc-demo-1", "2026-02-27T10:00:00Z", []account.Event{opened("acc-demo-1"), account.MoneyDeposited{Amount: 1000, Reference: "opening deposit", BalanceAfter: 1000}}},
		{"acc-demo-1", "2026-03-01T09:00:00Z", []account.Event{account.MoneyDeposited{Amount: 5000, Reference: "salary", BalanceAfter: 6000}}},
		{"acc-demo-1", "2026-03-01T18:30:00Z", []account.Event{account.MoneyWithdrawn{Amount: 1200, Reference: "rent", BalanceAfter: 4800}}},
		{"acc-demo-1", "2026-03-03T08:15:00Z", []account.Event{account.MoneyDeposited{Amount: 250, TransferID: "tr-demo-1", BalanceAfter: 5050}}},
	})
	view := views.NewStatements(store, l.events, projection.NewDeadLetters(&projection.LetterBox{}), slog.New(slog.DiscardHandler))
	for _, c := range l.commits {
		if err := view.Apply(t.Context(), c.Events); err != nil {
			t.Fatal(err)
		}
	}
}

// statementsBeyondTheDocument names the payloads the handler refuses by a
// rule that no schema of api/openapi.yaml states, with the rule.
var statementsBeyondTheDocument = map[string]string{
	"get-statements-reversed-range.json": "to must not be before from",
	"get-statements-too-long.json":       "to must be within 366 days of from",
}

func checkStatementPayload(t *testing.T, name string, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	want := statementPayloads[name]
	if resp.StatusCode != want.status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, want.status, resp.Body)
	}
	if !strings.HasPrefix(resp.Headers[httpapi.CorrelationHeader], "corr-get-statements") {
		t.Errorf("correlation id %q, want the payload's", resp.Headers[httpapi.CorrelationHeader])
	}
	if want.problem != "" {
		var p problemJSON
		if err := json.Unmarshal([]byte(resp.Body), &p); err != nil || p.Type != httpapi.ProblemTypePrefix+want.problem ||
			want.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != want.field) {
			t.Errorf("problem %s (%v), want %s on %q", resp.Body, err, want.problem, want.field)
		}
		return
	}
	var s statementJSON
	if err := json.Unmarshal([]byte(resp.Body), &s); err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, d := range s.Days {
		days = append(days, d.Date)
	}
	if s.AccountID != "acc-demo-1" || s.Currency != "EUR" || s.OpeningBalance != want.opening || s.ClosingBalance != want.closing ||
		strings.Join(days, " ") != strings.Join(want.days, " ") {
		t.Errorf("statement %s, want balances %d to %d over %v", resp.Body, want.opening, want.closing, want.days)
	}
	if len(s.Days) == 2 && (s.Days[0].Deposits != 5000 || s.Days[0].Withdrawals != 1200 || s.Days[1].TransfersIn != 250) {
		t.Errorf("days %+v, want 5,000 in and 1,200 out, then a transfer in of 250", s.Days)
	}
}

func TestStatementPayloadsThroughTheHandler(t *testing.T) {
	contract := openapitest.Load(t)
	for name, raw := range lambdatest.Payloads(t, "statements", statementPayloads) {
		t.Run(name, func(t *testing.T) {
			var req events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &req); err != nil {
				t.Fatal(err)
			}
			store := views.NewMemoryStatements()
			seedStatements(t, store)
			h := queryapi.New(queryapi.Config{Vault: personal.NewVault(personal.NewMemoryKeys()),
				Store: newEvents(), Accounts: views.NewMemoryAccounts(), History: views.NewMemoryHistory(),
				Routes: []views.Route{views.StatementRoute(store)}, NewID: func() string { return "generated" },
				Log: slog.New(slog.DiscardHandler),
			})
			resp, err := h.Handle(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			checkStatementPayload(t, name, resp)
			// The request and the answer are as api/openapi.yaml says.
			contract.CheckPayload(t, req, resp, statementsBeyondTheDocument[name])
		})
	}
}

// The built query function, under the Lambda Runtime Interface Emulator,
// against moto, serves the route from the registry with the table the
// template's variable names.
func TestStatementPayloadsThroughTheBuiltFunction(t *testing.T) {
	t.Parallel()
	bootstrap := lambdatest.Build(t, "QueryFunction")
	db := awstest.DynamoDB(t)
	env := awstest.PersonalData(t)
	env["EVENTS_TABLE"] = awstest.Table(t, db, "EventsTable")
	env["ARCHIVE_BUCKET"] = awstest.ArchiveBucket(t, "archive").Bucket()
	for _, v := range views.All {
		env[v.Env] = awstest.Table(t, db, v.Table)
	}
	seedStatements(t, views.NewDynamoStatements(db, env[ledgerenv.StatementsTable]))
	fn := lambdatest.Start(t, bootstrap, env)
	for name, raw := range lambdatest.Payloads(t, "statements", statementPayloads) {
		t.Run(name, func(t *testing.T) {
			checkStatementPayload(t, name, lambdatest.Call[events.APIGatewayV2HTTPResponse](t, fn, raw))
		})
	}
}
