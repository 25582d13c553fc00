package queryapi_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/httpapi"
)

// A caller never sees another tenant's data, whatever ids, parameters or
// cursors it sends: the other tenant's accounts are unknown to it, and the
// other tenant's cursors are refused.
func TestNoCallerSeesAnotherTenant(t *testing.T) {
	f := newFixture(t)
	// t1's secret account and owner.
	a := f.open(t, "t1", "acc-secret", "owner-secret")
	for range 5 {
		a.deposit(t, 777)
	}
	a.project(t)
	f.open(t, "t1", "acc-secret-2", "owner-secret").project(t)
	// t2 has an account of its own, under an owner of the same name.
	f.open(t, "t2", "acc-mine", "owner-secret").project(t)

	// Cursors t1 was handed, one per list.
	cursors := map[string]string{}
	for path, q := range map[string]string{
		"/accounts":                         "owner=owner-secret&limit=1",
		"/accounts/acc-secret/transactions": "limit=1",
		"/accounts/acc-secret/events":       "limit=1",
	} {
		b := expect(t, f.do(t, req{path: path, query: q, tenant: "t1"}), 200, "")
		if cursors[path] = next(t, b); cursors[path] == "" {
			t.Fatalf("%s: no cursor for t1", path)
		}
	}

	at := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	probes := []req{
		{path: "/accounts/acc-secret"},
		{path: "/accounts/acc-secret", query: "version=1"},
		{path: "/accounts/acc-secret", query: "version=6"},
		{path: "/accounts/acc-secret", query: "minVersion=1"},
		{path: "/accounts/acc-secret", query: "at=" + at},
		{path: "/accounts/acc-secret/transactions"},
		{path: "/accounts/acc-secret/events"},
		{path: "/accounts/acc-secret/events", query: "fromVersion=3"},
		{path: "/accounts/t1%23account%23acc-secret"},
		{path: "/accounts/..%2Ft1%23acc-secret"},
	}
	for path, c := range cursors {
		q := "cursor=" + c
		if path == "/accounts" {
			q = "owner=owner-secret&" + q
		}
		probes = append(probes, req{path: path, query: q})
	}
	// The same cursors against t2's own lists.
	probes = append(probes,
		req{path: "/accounts/acc-mine/transactions", query: "cursor=" + cursors["/accounts/acc-secret/transactions"]},
		req{path: "/accounts/acc-mine/events", query: "cursor=" + cursors["/accounts/acc-secret/events"]})
	for _, p := range probes {
		p.tenant = "t2"
		resp := f.do(t, p)
		if strings.Contains(resp.Body, "acc-secret") || strings.Contains(resp.Body, "777") {
			t.Errorf("t2 %s?%s saw t1's data: %s", p.path, p.query, resp.Body)
		}
		switch resp.StatusCode {
		case 400:
			expect(t, resp, 400, httpapi.KindBadCursor)
		case 404:
		default:
			t.Errorf("t2 %s?%s: %d %s, want 404 or a bad cursor", p.path, p.query, resp.StatusCode, resp.Body)
		}
	}

	// t2's own listing of the owner holds only its own account.
	b := expect(t, f.do(t, req{path: "/accounts", query: "owner=owner-secret", tenant: "t2"}), 200, "")
	if its := items(t, b); len(its) != 1 || its[0]["accountId"] != "acc-mine" {
		t.Errorf("t2's accounts of owner-secret: %v", b)
	}
	// And t1 still sees its own.
	if b := expect(t, f.do(t, req{path: "/accounts/acc-secret", tenant: "t1"}), 200, ""); num(b, "balance") != 5*777 {
		t.Errorf("t1's own account: %v", b)
	}
}
