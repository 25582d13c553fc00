package commandapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/ledger/app"
	"annals/internal/ledger/transfer"
)

func (f *fixture) openIn(t *testing.T, currency string) string {
	t.Helper()
	resp := f.do(t, req{path: "/accounts", body: fmt.Sprintf(`{"owner":"alice","currency":%q}`, currency)})
	return expect(t, resp, 201, "")["accountId"].(string)
}

// requested reads the transfer's stream: exactly one TransferRequested.
func (f *fixture) requested(t *testing.T, tenant, id string) (transfer.Requested, eventstore.Event) {
	t.Helper()
	stream, err := app.TransferStream(tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	page, err := f.store.Read(t.Context(), stream, 1, 10)
	if err != nil {
		t.Fatalf("read transfer %s: %v", id, err)
	}
	if len(page.Events) != 1 {
		t.Fatalf("transfer %s has %d events, want 1", id, len(page.Events))
	}
	opened, err := app.Opened(t.Context(), f.vault, page.Events[0])
	if err != nil {
		t.Fatal(err)
	}
	ev, err := app.DecodeTransfer(opened)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := ev.(transfer.Requested)
	if !ok {
		t.Fatalf("transfer %s starts with %T", id, ev)
	}
	return r, page.Events[0]
}

func TestStartTransferRecordsTheRequest(t *testing.T) {
	f := newFixture(t)
	from, to := f.open(t, 0), f.open(t, 0)
	resp := f.do(t, req{path: "/transfers", body: fmt.Sprintf(`{"fromAccountId":%q,"toAccountId":%q,"amount":2500,"reference":"rent"}`, from, to),
		headers: map[string]string{"X-Correlation-Id": "corr-1"}})
	b := expect(t, resp, 202, "")
	id, _ := b["transferId"].(string)
	if id == "" || b["status"] != "pending" {
		t.Fatalf("body %v, want a transferId and status pending", b)
	}
	if resp.Headers["Location"] != "/transfers/"+id || resp.Headers["ETag"] != `"1"` {
		t.Errorf("headers %v, want Location /transfers/%s and ETag \"1\"", resp.Headers, id)
	}
	r, e := f.requested(t, "t1", id)
	want := transfer.Requested{TransferID: id, FromAccountID: from, ToAccountID: to, Amount: 2500, Currency: "EUR", Reference: "rent"}
	if r != want {
		t.Errorf("recorded %+v, want %+v", r, want)
	}
	if e.CorrelationID != "corr-1" || e.Actor != "alice" {
		t.Errorf("metadata %+v, want the request's correlation id and actor", e.Metadata)
	}
	// Nothing moves yet: the accounts are untouched until the process
	// manager's steps.
	for _, acc := range []string{from, to} {
		if v := f.version(t, acc); v != 1 {
			t.Errorf("account %s at version %d after the request, want 1", acc, v)
		}
	}
}

func (f *fixture) version(t *testing.T, account string) int64 {
	t.Helper()
	resp := f.do(t, req{path: "/accounts/" + account + "/deposits", body: `{"amount":1}`})
	return num(expect(t, resp, 200, ""), "version") - 1
}

func TestStartTransferRefusals(t *testing.T) {
	f := newFixture(t)
	a, b, usd := f.open(t, 0), f.open(t, 0), f.openIn(t, "USD")
	closed := f.open(t, 0)
	expect(t, f.do(t, req{path: "/accounts/" + closed + "/close"}), 200, "")
	body := func(from, to string, amount any) string {
		v, _ := json.Marshal(map[string]any{"fromAccountId": from, "toAccountId": to, "amount": amount})
		return string(v)
	}
	for _, c := range []struct {
		name, body, problem string
		status              int
		fields              []string
	}{
		{"nothing", `{}`, "validation", 400, []string{"amount", "fromAccountId", "toAccountId"}},
		{"zero", body(a, b, 0), "validation", 400, []string{"amount"}},
		{"negative", body(a, b, -5), "validation", 400, []string{"amount"}},
		{"string amount", body(a, b, "5"), "validation", 400, []string{"amount"}},
		{"same account", body(a, a, 5), "validation", 400, []string{"toAccountId"}},
		{"other currency", body(a, usd, 5), "validation", 400, []string{"toAccountId"}},
		{"unknown source", body("nope", b, 5), "not-found", 404, nil},
		{"unknown destination", body(a, "nope", 5), "not-found", 404, nil},
		{"impossible id", body(a, "x#y", 5), "not-found", 404, nil},
		{"closed source", body(closed, b, 5), "account-closed", 422, nil},
		{"closed destination", body(a, closed, 5), "account-closed", 422, nil},
		{"not JSON", `{"amount":`, "malformed-json", 400, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := expect(t, f.do(t, req{path: "/transfers", body: c.body}), c.status, c.problem)
			var fields []string
			errs, _ := got["errors"].([]any)
			for _, e := range errs {
				fields = append(fields, e.(map[string]any)["field"].(string))
			}
			if fmt.Sprint(fields) != fmt.Sprint(c.fields) && c.fields != nil {
				t.Errorf("fields %v, want %v", fields, c.fields)
			}
		})
	}
	expect(t, f.do(t, req{method: "GET", path: "/transfers"}), 405, "method-not-allowed")
	expect(t, f.do(t, req{path: "/transfers", body: body(a, b, 5), scopes: []string{"ledger:read"}}), 403, "forbidden")
}

func TestStartTransferIsIdempotent(t *testing.T) {
	f := newFixture(t)
	from, to := f.open(t, 0), f.open(t, 0)
	r := req{path: "/transfers", body: fmt.Sprintf(`{"fromAccountId":%q,"toAccountId":%q,"amount":7}`, from, to),
		headers: map[string]string{"Idempotency-Key": "k-1"}}
	first := expect(t, f.do(t, r), 202, "")
	again := f.do(t, r)
	if b := expect(t, again, 202, ""); b["transferId"] != first["transferId"] || again.Headers["Idempotent-Replayed"] != "true" {
		t.Fatalf("retry answered %v %v, want the first transfer replayed (%v)", b, again.Headers, first["transferId"])
	}
	f.requested(t, "t1", first["transferId"].(string))
	r.body = fmt.Sprintf(`{"fromAccountId":%q,"toAccountId":%q,"amount":8}`, from, to)
	expect(t, f.do(t, r), 422, "idempotency-key-reused")
}

// No POST /transfers body, however malformed, panics the handler or gets a
// 5xx; one that is accepted is recorded as a valid request.
func FuzzTransferRequest(f *testing.F) {
	for _, s := range []string{
		`{"fromAccountId":"acc-demo-1","toAccountId":"acc-demo-2","amount":100}`,
		`{"fromAccountId":"acc-demo-2","toAccountId":"acc-demo-1","amount":1,"reference":"r"}`,
		`{"fromAccountId":"acc-demo-1","toAccountId":"acc-demo-1","amount":1}`,
		`{"fromAccountId":"","toAccountId":null,"amount":1e3}`,
		`{"fromAccountId":"acc-demo-1","toAccountId":"acc-demo-2","amount":9223372036854775807,"reference":"\u0000"}`,
		`[1,2]`, `{"amount":"1"}`, ``,
	} {
		f.Add(s, "application/json")
	}
	f.Fuzz(func(t *testing.T, body, contentType string) {
		fx := newFixture(t)
		seedDemo(t, fx.store)
		r := req{path: "/transfers", body: body, tenant: "demo", headers: map[string]string{"content-type": contentType}}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		resp, err := fx.h.Handle(ctx, r.event())
		if err != nil || resp.StatusCode >= 500 || resp.StatusCode < 200 {
			t.Fatalf("%q: status %d %s (%v)", body, resp.StatusCode, resp.Body, err)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &v); err != nil {
			t.Fatalf("body %q is not a JSON object: %v", resp.Body, err)
		}
		if resp.StatusCode != 202 {
			return
		}
		rq, _ := fx.requested(t, "demo", v["transferId"].(string))
		if rq.Amount < 1 || rq.FromAccountID == rq.ToAccountID || rq.Currency != "EUR" {
			t.Fatalf("%q accepted as %+v", body, rq)
		}
	})
}
