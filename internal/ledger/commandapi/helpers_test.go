package commandapi_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/httpapi/httpapitest"
	"annals/internal/kit/personal"
	"annals/internal/kit/testclock"
	"annals/internal/kit/testlog"
	"annals/internal/ledger/commandapi"
)

// fixture is a handler over an in-memory event store (held to the
// DynamoDB contract by its own suite), with a controllable clock.
type fixture struct {
	h       *commandapi.Handler
	store   *eventstore.Store
	backend eventstore.Backend
	clock   *testclock.Clock // stands still until advanced
	logs    *testlog.Buffer
	vault   *personal.Vault
}

var ids atomic.Int64

func newID() string { return fmt.Sprintf("id-%06d", ids.Add(1)) }

type option func(*commandapi.Config, *fixture)

func newFixture(t *testing.T, opts ...option) *fixture {
	t.Helper()
	f := &fixture{
		backend: eventstore.NewMemoryBackend(),
		clock:   testclock.New(testclock.Start, 0),
		logs:    &testlog.Buffer{},
	}
	f.vault = personal.NewVault(personal.NewMemoryKeys())
	cfg := commandapi.Config{
		Vault: f.vault,
		Now:   f.clock.Now,
		NewID: newID,
		Log:   slog.New(slog.NewJSONHandler(f.logs, nil)),
	}
	for _, o := range opts {
		o(&cfg, f)
	}
	f.store = eventstore.New(f.backend, eventstore.WithClock(f.clock.Now), eventstore.WithIDs(newID),
		eventstore.WithLogger(slog.New(slog.DiscardHandler)))
	cfg.Store = f.store
	f.h = commandapi.New(cfg)
	return f
}

type req struct {
	raw                *events.APIGatewayV2HTTPRequest
	method, path, body string
	headers            map[string]string
	tenant             string
	subject            string // the token's user: alice when empty
	scopes             []string
	noAuth             bool
}

// reqFromEvent sends a ready-made event as it is.
func reqFromEvent(ev events.APIGatewayV2HTTPRequest) req { return req{raw: &ev} }

func (r req) event() events.APIGatewayV2HTTPRequest {
	if r.raw != nil {
		return *r.raw
	}
	if r.method == "" {
		r.method = "POST"
	}
	if r.tenant == "" {
		r.tenant = "t1"
	}
	if r.scopes == nil {
		r.scopes = []string{httpapi.ScopeWrite}
	}
	if r.subject == "" {
		r.subject = "alice"
	}
	return httpapitest.Request{Method: r.method, Path: r.path, Body: r.body, Headers: r.headers,
		Subject: r.subject, Tenant: r.tenant, Scopes: r.scopes, NoAuth: r.noAuth}.Event()
}

func (f *fixture) do(t *testing.T, r req) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := f.h.Handle(t.Context(), r.event())
	if err != nil {
		t.Fatalf("%s %s: handler returned an error: %v", r.method, r.path, err)
	}
	return resp
}

// body and expect check a response as every function's route tests do.
type body = httpapitest.Body

var expect = httpapitest.Expect

func decodeBody(t *testing.T, resp events.APIGatewayV2HTTPResponse) body {
	t.Helper()
	var b body
	if err := json.Unmarshal([]byte(resp.Body), &b); err != nil {
		t.Fatalf("response body %q is not JSON: %v", resp.Body, err)
	}
	return b
}

func (f *fixture) open(t *testing.T, overdraft int64) string {
	t.Helper()
	resp := f.do(t, req{path: "/accounts", body: fmt.Sprintf(`{"owner":"alice","currency":"EUR","overdraftLimit":%d}`, overdraft)})
	b := expect(t, resp, 201, "")
	return b["accountId"].(string)
}

func (f *fixture) deposit(t *testing.T, id string, amount int64) events.APIGatewayV2HTTPResponse {
	t.Helper()
	return f.do(t, req{path: "/accounts/" + id + "/deposits", body: fmt.Sprintf(`{"amount":%d}`, amount)})
}

func num(b body, k string) int64 {
	v, _ := b[k].(float64)
	return int64(v)
}
