package commandapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/openapi/openapitest"
	"annals/internal/localaws/lambdatest"
)

// The events/command payloads are what `sam local invoke` feeds the
// function; here they are golden inputs with their expected answers, so a
// payload that no longer works fails a test. Every payload must be listed.
var payloadExpectations = map[string]struct {
	status  int
	problem string
	balance int64 // checked for 200s that return one
}{
	"open-account.json":                {status: 201},
	"open-account-missing-fields.json": {status: 400, problem: httpapi.KindValidation},
	"open-account-reversed-owner.json": {status: 400, problem: httpapi.KindValidation},
	"deposit.json":                     {status: 200, balance: 7500},
	"deposit-idempotent.json":          {status: 200, balance: 5100},
	"deposit-if-match-stale.json":      {status: 412, problem: httpapi.KindPreconditionFailed},
	"deposit-if-match-weak.json":       {status: 412, problem: httpapi.KindPreconditionFailed},
	"deposit-invalid-amount.json":      {status: 400, problem: httpapi.KindValidation},
	"deposit-duplicate-member.json":    {status: 400, problem: httpapi.KindValidation},
	"deposit-invalid-utf8.json":        {status: 400, problem: httpapi.KindValidation},
	"deposit-invalid-channel.json":     {status: 400, problem: httpapi.KindValidation},
	"deposit-malformed-json.json":      {status: 400, problem: httpapi.KindMalformedJSON},
	"deposit-wrong-media-type.json":    {status: 415, problem: httpapi.KindUnsupportedMediaType},
	"deposit-unknown-account.json":     {status: 404, problem: httpapi.KindNotFound},
	"withdraw.json":                    {status: 200, balance: 4000},
	"withdraw-insufficient-funds.json": {status: 422, problem: account.ErrInsufficientFunds.Kind},
	"close.json":                       {status: 200},
	"close-not-empty.json":             {status: 422, problem: account.ErrAccountNotEmpty.Kind},
	"unknown-route.json":               {status: 404, problem: httpapi.KindRouteNotFound},

	"start-transfer.json":              {status: 202},
	"start-transfer-same-account.json": {status: 400, problem: httpapi.KindValidation},
}

// beyondTheDocument names the payloads the handler refuses by a rule that
// no schema of api/openapi.yaml states, with the rule.
var beyondTheDocument = map[string]string{
	"deposit-invalid-utf8.json":        "a schema sees text once decoded, with the bytes that are not UTF-8 replaced",
	"start-transfer-same-account.json": "the two accounts must differ",
}

// seedDemo writes the accounts the payloads name: acc-demo-1 with 5,000
// (at version 2) and the empty acc-demo-2, both of tenant demo.
func seedDemo(t *testing.T, store *eventstore.Store) {
	t.Helper()
	accounts := app.NewAccounts(store)
	for _, a := range []struct {
		id      string
		deposit int64
	}{{"acc-demo-1", 5000}, {"acc-demo-2", 0}} {
		stream, err := app.AccountStream("demo", a.id)
		if err != nil {
			t.Fatal(err)
		}
		evs := []account.Event{account.AccountOpened{AccountID: a.id, Owner: "alice", Currency: "EUR"}}
		if a.deposit > 0 {
			evs = append(evs, account.MoneyDeposited{Amount: a.deposit, Reference: "seed", BalanceAfter: a.deposit})
		}
		enc, err := app.Encode(evs)
		if err != nil {
			t.Fatal(err)
		}
		cur := eventstore.Current[account.Account]{Head: eventstore.NewStream(stream)}
		for _, e := range enc {
			if cur, _, err = accounts.Append(context.Background(), cur, []eventstore.NewEvent{e}, eventstore.Metadata{Actor: "seed"}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkPayloadResponse asserts a response against its expectation.
func checkPayloadResponse(t *testing.T, name string, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	want := payloadExpectations[name]
	b := expect(t, resp, want.status, want.problem)
	if want.balance != 0 && num(b, "balance") != want.balance {
		t.Errorf("balance %v, want %d", b["balance"], want.balance)
	}
	if resp.StatusCode < 300 && resp.Headers["ETag"] == "" {
		t.Error("success without ETag")
	}
	if !strings.HasPrefix(resp.Headers[httpapi.CorrelationHeader], "corr-") {
		t.Errorf("correlation id %q, want the payload's", resp.Headers[httpapi.CorrelationHeader])
	}
}

func TestPayloadsThroughTheHandler(t *testing.T) {
	contract := openapitest.Load(t)
	for name, raw := range lambdatest.Payloads(t, "command", payloadExpectations) {
		t.Run(name, func(t *testing.T) {
			var req events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &req); err != nil {
				t.Fatal(err)
			}
			f := newFixture(t)
			seedDemo(t, f.store)
			resp := f.do(t, reqFromEvent(req))
			checkPayloadResponse(t, name, resp)
			// The request and the answer are as api/openapi.yaml says.
			contract.CheckPayload(t, req, resp, beyondTheDocument[name])
		})
	}
}
