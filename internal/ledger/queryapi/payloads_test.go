package queryapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/personal"
	"annals/internal/kit/testclock"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/openapi/openapitest"
	"annals/internal/ledger/queryapi"
	"annals/internal/ledger/transfer"
	"annals/internal/ledger/views"
	"annals/internal/localaws/lambdatest"
)

// The events/query payloads are what `sam local invoke QueryFunction`
// feeds the function; here they are golden inputs with their expected
// answers, so a payload that no longer works fails a test. Every payload
// must be listed.
var payloadExpectations = map[string]struct {
	status  int
	problem string
	version int64  // of the account, for the account view
	balance int64  // of the account, for the account view
	source  string // the account view's read source
	items   int    // for the lists
	state   string // the transfer's status, for the transfer
}{
	"get-account.json":                         {status: 200, version: 2, balance: 5000, source: queryapi.SourceView},
	"get-account-not-modified.json":            {status: 304, version: 2, source: queryapi.SourceView},
	"get-account-at-version.json":              {status: 200, version: 1, balance: 0, source: queryapi.SourceEvents},
	"get-account-at-time.json":                 {status: 200, version: 1, balance: 0, source: queryapi.SourceEvents},
	"get-account-before-it-existed.json":       {status: 404, problem: httpapi.KindVersionNotFound},
	"get-account-min-version.json":             {status: 200, version: 3, balance: 7500, source: queryapi.SourceEvents},
	"get-account-min-version-beyond-head.json": {status: 404, problem: httpapi.KindVersionNotFound},
	"get-account-unknown.json":                 {status: 404, problem: httpapi.KindNotFound},
	"get-account-other-tenant.json":            {status: 404, problem: httpapi.KindNotFound},
	"get-account-without-read-scope.json":      {status: 403, problem: httpapi.KindForbidden},
	"get-account-conflicting-parameters.json":  {status: 400, problem: httpapi.KindValidation},
	"list-accounts-by-owner.json":              {status: 200, items: 1},
	"list-accounts-missing-owner.json":         {status: 400, problem: httpapi.KindValidation},
	"list-accounts-bad-cursor.json":            {status: 400, problem: httpapi.KindBadCursor},
	"list-accounts-limit-too-large.json":       {status: 400, problem: httpapi.KindValidation},
	"get-transactions.json":                    {status: 200, items: 1},
	"get-events.json":                          {status: 200, items: 2},
	"get-events-unknown-account.json":          {status: 404, problem: httpapi.KindNotFound},
	"unknown-route.json":                       {status: 404, problem: httpapi.KindRouteNotFound},
	"get-transfer.json":                        {status: 200, state: "pending"},
	"get-transfer-unknown.json":                {status: 404, problem: httpapi.KindNotFound},
}

// beyondTheDocument names the payloads the handler refuses by a rule that
// no schema of api/openapi.yaml states, with the rule.
var beyondTheDocument = map[string]string{
	"get-account-conflicting-parameters.json": "version, at and minVersion are alternatives",
}

// demoClock is the clock the demo accounts are written with: each commit
// one second after the last, from 2026-03-01T09:00:00Z.
func demoClock() func() time.Time { return testclock.New(testclock.Start, time.Second).Now }

// seedDemo writes what the payloads name, in tenant demo: acc-demo-1 of
// alice, opened (version 1, at 09:00:01) with 5,000 deposited (2, at
// 09:00:02), and acc-demo-2 of alice (at 09:00:03), both in the views;
// then 2,500 more into acc-demo-1 (3, at 09:00:04), which the views have
// not seen yet; and tr-demo-1, a transfer of 1,000 from acc-demo-1 to
// acc-demo-2 requested (at 09:00:05) and not yet moved.
func seedDemo(t testing.TB, store *eventstore.Store, view views.AccountStore, history views.HistoryStore) {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	accounts, historyView := views.NewAccounts(view, store, nil, quiet), views.NewHistory(history, store, nil, quiet)
	accs := app.NewAccounts(store)
	heads := map[string]eventstore.Current[account.Account]{}
	commit := func(id string, project bool, ev account.Event) {
		stream, err := app.AccountStream("demo", id)
		if err != nil {
			t.Fatal(err)
		}
		cur, ok := heads[id]
		if !ok {
			cur.Head = eventstore.NewStream(stream)
		}
		enc, err := app.Encode([]account.Event{ev})
		if err != nil {
			t.Fatal(err)
		}
		cur, recorded, err := accs.Append(ctx, cur, enc, eventstore.Metadata{CommandID: "cmd-" + id, CorrelationID: "corr-seed", CausationID: "cmd-" + id, Actor: "seed"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		heads[id] = cur
		if !project {
			return
		}
		if err := accounts.Apply(ctx, recorded); err != nil {
			t.Fatal(err)
		}
		if err := historyView.Apply(ctx, recorded); err != nil {
			t.Fatal(err)
		}
	}
	commit("acc-demo-1", true, account.AccountOpened{AccountID: "acc-demo-1", Owner: "alice", Currency: "EUR"})
	commit("acc-demo-1", true, account.MoneyDeposited{Amount: 5000, Reference: "salary", BalanceAfter: 5000})
	commit("acc-demo-2", true, account.AccountOpened{AccountID: "acc-demo-2", Owner: "alice", Currency: "EUR"})
	commit("acc-demo-1", false, account.MoneyDeposited{Amount: 2500, Reference: "bonus", BalanceAfter: 7500})

	tr, err := app.TransferStream("demo", "tr-demo-1")
	if err != nil {
		t.Fatal(err)
	}
	enc, err := app.EncodeTransfer(transfer.Requested{TransferID: "tr-demo-1", FromAccountID: "acc-demo-1", ToAccountID: "acc-demo-2", Amount: 1000, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, eventstore.NewStream(tr), enc, eventstore.Metadata{CommandID: "cmd-tr-demo-1", Actor: "seed"}, nil); err != nil {
		t.Fatal(err)
	}
}

// checkPayloadResponse asserts a response against its expectation.
func checkPayloadResponse(t *testing.T, name string, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	want := payloadExpectations[name]
	if !strings.HasPrefix(resp.Headers[httpapi.CorrelationHeader], "corr-") {
		t.Errorf("correlation id %q, want the payload's", resp.Headers[httpapi.CorrelationHeader])
	}
	if want.source != "" {
		if resp.Headers[queryapi.SourceHeader] != want.source || resp.Headers["ETag"] != httpapi.ETag(want.version) {
			t.Errorf("headers %v, want source %s and version %d", resp.Headers, want.source, want.version)
		}
	}
	if want.status == 304 {
		if resp.StatusCode != 304 || resp.Body != "" {
			t.Fatalf("status %d %q, want an empty 304", resp.StatusCode, resp.Body)
		}
		return
	}
	b := expect(t, resp, want.status, want.problem)
	if want.source != "" && (num(b, "version") != want.version || num(b, "balance") != want.balance) {
		t.Errorf("account %v, want version %d balance %d", b, want.version, want.balance)
	}
	if want.state != "" {
		if got, _ := b["status"].(string); got != want.state || b["transferId"] != "tr-demo-1" {
			t.Errorf("transfer %v, want tr-demo-1 %s", b, want.state)
		}
	}
	if _, list := b["items"]; list || want.items > 0 {
		if got := items(t, b); len(got) != want.items {
			t.Errorf("%d items, want %d: %v", len(got), want.items, b)
		}
	}
}

func TestPayloadsThroughTheHandler(t *testing.T) {
	contract := openapitest.Load(t)
	for name, raw := range lambdatest.Payloads(t, "query", payloadExpectations) {
		t.Run(name, func(t *testing.T) {
			var req events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &req); err != nil {
				t.Fatal(err)
			}
			store := eventstore.New(eventstore.NewMemoryBackend(), eventstore.WithClock(demoClock()), eventstore.WithIDs(newID))
			view, history := views.NewMemoryAccounts(), views.NewMemoryHistory()
			seedDemo(t, store, view, history)
			h := queryapi.New(queryapi.Config{Vault: personal.NewVault(personal.NewMemoryKeys()), Store: store, Accounts: view, History: history, NewID: newID,
				Log: slog.New(slog.DiscardHandler)})
			resp, err := h.Handle(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			checkPayloadResponse(t, name, resp)
			// The request and the answer are as api/openapi.yaml says.
			contract.CheckPayload(t, req, resp, beyondTheDocument[name])
		})
	}
}
