package queryapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/httpapi"
	"annals/internal/ledger/account"
	"annals/internal/ledger/queryapi"
)

func TestAccountViewFromTheView(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "t1", "acc-1", "alice")
	a.deposit(t, 500)
	a.withdraw(t, 120)
	a.project(t)

	resp := f.do(t, req{path: "/accounts/acc-1"})
	b := expect(t, resp, 200, "")
	want := body{"accountId": "acc-1", "owner": "alice", "currency": "EUR", "balance": 380.0, "status": "open",
		"version": 3.0, "updatedAt": a.versions[2].Format(time.RFC3339Nano)}
	if fmt.Sprint(b) != fmt.Sprint(want) {
		t.Errorf("body %v\nwant %v", b, want)
	}
	if resp.Headers["ETag"] != `"3"` || resp.Headers[queryapi.SourceHeader] != queryapi.SourceView {
		t.Errorf("headers %v", resp.Headers)
	}
	if resp.Headers["Cache-Control"] != "private, no-cache" {
		t.Errorf("Cache-Control %q", resp.Headers["Cache-Control"])
	}

	// The view is what is read: a commit it has not seen does not show.
	a.deposit(t, 1)
	if b := expect(t, f.do(t, req{path: "/accounts/acc-1"}), 200, ""); num(b, "version") != 3 {
		t.Errorf("version %v, want the view's 3", b["version"])
	}

	// Closed accounts show as closed.
	a.withdraw(t, 381)
	a.commit(t, account.AccountClosed{})
	a.project(t)
	if b := expect(t, f.do(t, req{path: "/accounts/acc-1"}), 200, ""); b["status"] != "closed" || num(b, "balance") != 0 {
		t.Errorf("closed account %v", b)
	}
}

func TestAccountViewUnknownAccount(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "t1", "acc-1", "alice")
	for _, path := range []string{"/accounts/nope", "/accounts/acc-1"} {
		// acc-1 is in the events table but not (yet) in the view.
		expect(t, f.do(t, req{path: path}), 404, httpapi.KindNotFound)
	}
	a.project(t)
	expect(t, f.do(t, req{path: "/accounts/acc-1"}), 200, "")
	// No id with the key separator or over 128 bytes can be an account.
	for _, id := range []string{"a%23b", strings.Repeat("x", 129)} {
		expect(t, f.do(t, req{path: "/accounts/" + id}), 404, httpapi.KindNotFound)
	}
}

func TestIfNoneMatch(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "t1", "acc-1", "alice")
	a.deposit(t, 10)
	a.project(t)
	for _, c := range []struct {
		header string
		status int
	}{
		{`"2"`, 304}, {`W/"2"`, 304}, {`"1", "2"`, 304}, {`*`, 304},
		{`"1"`, 200}, {`"22"`, 200}, {`2`, 200}, {``, 200},
	} {
		resp := f.do(t, req{path: "/accounts/acc-1", headers: map[string]string{"If-None-Match": c.header}})
		if resp.StatusCode != c.status {
			t.Errorf("If-None-Match %q: %d, want %d", c.header, resp.StatusCode, c.status)
			continue
		}
		if resp.Headers["ETag"] != `"2"` {
			t.Errorf("If-None-Match %q: ETag %q", c.header, resp.Headers["ETag"])
		}
		if c.status == 304 && (resp.Body != "" || resp.Headers[httpapi.CorrelationHeader] == "") {
			t.Errorf("304 with body %q, headers %v", resp.Body, resp.Headers)
		}
	}
	// After a change, the old tag no longer matches.
	a.deposit(t, 10)
	a.project(t)
	resp := f.do(t, req{path: "/accounts/acc-1", headers: map[string]string{"If-None-Match": `"2"`}})
	if resp.StatusCode != 200 || resp.Headers["ETag"] != `"3"` {
		t.Errorf("after a deposit: %d %v", resp.StatusCode, resp.Headers)
	}
	// Time travel answers conditionally too.
	resp = f.do(t, req{path: "/accounts/acc-1", query: "version=1", headers: map[string]string{"If-None-Match": `"1"`}})
	if resp.StatusCode != 304 {
		t.Errorf("version=1 with If-None-Match \"1\": %d", resp.StatusCode)
	}
}

func TestTimeTravelByVersion(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "t1", "acc-1", "alice")
	a.deposit(t, 100)
	// One commit of two events: version 3 sits inside it.
	a.balance += 50
	first := a.balance
	a.balance -= 30
	a.commit(t, account.MoneyDeposited{Amount: 50, BalanceAfter: first}, account.MoneyWithdrawn{Amount: 30, BalanceAfter: a.balance})
	for range 120 { // past two snapshots (K = 50)
		a.deposit(t, 1)
	}
	a.project(t)
	for _, c := range []struct {
		version, balance int64
	}{{1, 0}, {2, 100}, {3, 150}, {4, 120}, {50, 166}, {51, 167}, {124, 240}} {
		resp := f.do(t, req{path: "/accounts/acc-1", query: fmt.Sprint("version=", c.version)})
		b := expect(t, resp, 200, "")
		if num(b, "version") != c.version || num(b, "balance") != c.balance || b["updatedAt"] != a.versions[c.version-1].Format(time.RFC3339Nano) {
			t.Errorf("version=%d: %v, want balance %d", c.version, b, c.balance)
		}
		if resp.Headers["ETag"] != fmt.Sprintf(`"%d"`, c.version) || resp.Headers[queryapi.SourceHeader] != queryapi.SourceEvents {
			t.Errorf("version=%d: headers %v", c.version, resp.Headers)
		}
	}
	expect(t, f.do(t, req{path: "/accounts/acc-1", query: "version=125"}), 404, httpapi.KindVersionNotFound)
	expect(t, f.do(t, req{path: "/accounts/nope", query: "version=1"}), 404, httpapi.KindNotFound)
	for _, q := range []string{"version=0", "version=-1", "version=x", "version=1.5", "version="} {
		b := expect(t, f.do(t, req{path: "/accounts/acc-1", query: q}), 400, httpapi.KindValidation)
		if !strings.Contains(fmt.Sprint(b["errors"]), "version") {
			t.Errorf("%s: errors %v do not name version", q, b["errors"])
		}
	}
}

func TestTimeTravelByTime(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "t1", "acc-1", "alice") // recorded at start+1s
	for range 60 {
		a.deposit(t, 2)
	}
	a.project(t)
	at := func(t0 time.Time) string { return "at=" + url.QueryEscape(t0.Format(time.RFC3339Nano)) }

	expect(t, f.do(t, req{path: "/accounts/acc-1", query: at(a.versions[0].Add(-time.Nanosecond))}), 404, httpapi.KindVersionNotFound)
	for _, c := range []struct {
		at      time.Time
		version int64
	}{
		{a.versions[0], 1},
		{a.versions[0].Add(500 * time.Millisecond), 1},
		{a.versions[9], 10},
		{a.versions[54].Add(time.Millisecond), 55}, // after a snapshot
		{a.versions[60], 61},
		{a.versions[60].Add(24 * 365 * time.Hour), 61}, // the future: now
	} {
		resp := f.do(t, req{path: "/accounts/acc-1", query: at(c.at)})
		b := expect(t, resp, 200, "")
		if num(b, "version") != c.version || num(b, "balance") != 2*(c.version-1) {
			t.Errorf("at %s: %v, want version %d", c.at, b, c.version)
		}
		if resp.Headers[queryapi.SourceHeader] != queryapi.SourceEvents {
			t.Errorf("at %s: source %q", c.at, resp.Headers[queryapi.SourceHeader])
		}
	}
	// Zone offsets, escaped or not ('+' reaches us as a space).
	local := a.versions[9].In(time.FixedZone("", 5*3600+1800)).Format(time.RFC3339Nano)
	for _, q := range []string{"at=" + url.QueryEscape(local), "at=" + local} {
		if b := expect(t, f.do(t, req{path: "/accounts/acc-1", query: q}), 200, ""); num(b, "version") != 10 {
			t.Errorf("%s: version %v, want 10", q, b["version"])
		}
	}
	for _, q := range []string{"at=yesterday", "at=2026-03-01", "at=2026-03-01T09:00:00", "at="} {
		expect(t, f.do(t, req{path: "/accounts/acc-1", query: q}), 400, httpapi.KindValidation)
	}
	expect(t, f.do(t, req{path: "/accounts/nope", query: at(a.versions[0])}), 404, httpapi.KindNotFound)
	// The earliest time there is, long before the account: not now.
	expect(t, f.do(t, req{path: "/accounts/acc-1", query: "at=0001-01-01T00:00:00Z"}), 404, httpapi.KindVersionNotFound)
}

func TestReadYourWrites(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "t1", "acc-1", "alice")
	a.deposit(t, 10)
	a.project(t)
	a.deposit(t, 10) // version 3, not in the view

	// The view has caught up with 2: it answers.
	for _, n := range []int{1, 2} {
		resp := f.do(t, req{path: "/accounts/acc-1", query: fmt.Sprint("minVersion=", n)})
		b := expect(t, resp, 200, "")
		if num(b, "version") != 2 || resp.Headers[queryapi.SourceHeader] != queryapi.SourceView {
			t.Errorf("minVersion=%d: %v %v", n, b, resp.Headers)
		}
	}
	// It lags behind 3: the events table answers, at once, with the head.
	resp := f.do(t, req{path: "/accounts/acc-1", query: "minVersion=3"})
	b := expect(t, resp, 200, "")
	if num(b, "version") != 3 || num(b, "balance") != 20 || resp.Headers[queryapi.SourceHeader] != queryapi.SourceEvents || resp.Headers["ETag"] != `"3"` {
		t.Errorf("minVersion=3: %v %v", b, resp.Headers)
	}
	// Beyond the head.
	expect(t, f.do(t, req{path: "/accounts/acc-1", query: "minVersion=4"}), 404, httpapi.KindVersionNotFound)
	// An account the view has never seen.
	c := f.open(t, "t1", "acc-2", "carol")
	if b := expect(t, f.do(t, req{path: "/accounts/acc-2", query: "minVersion=1"}), 200, ""); b["owner"] != "carol" {
		t.Errorf("unprojected account: %v", b)
	}
	c.project(t)
	expect(t, f.do(t, req{path: "/accounts/nope", query: "minVersion=1"}), 404, httpapi.KindNotFound)
}

func TestAccountParameters(t *testing.T) {
	f := newFixture(t)
	f.open(t, "t1", "acc-1", "alice").project(t)
	for _, q := range []string{
		"version=1&minVersion=1", "version=1&at=2026-03-01T09:00:00Z", "minversion=1", "limit=5",
		"version=1&version=2", "%zz",
	} {
		expect(t, f.do(t, req{path: "/accounts/acc-1", query: q}), 400, httpapi.KindValidation)
	}
	// API Gateway's split parameters are read when there is no raw string.
	ev := req{path: "/accounts/acc-1"}.event()
	ev.QueryStringParameters = map[string]string{"version": "1"}
	resp, _ := f.h.Handle(t.Context(), ev)
	if b := expect(t, resp, 200, ""); b["status"] != "open" || resp.Headers[queryapi.SourceHeader] != queryapi.SourceEvents {
		t.Errorf("queryStringParameters: %v", b)
	}
}

func TestOwnerAccounts(t *testing.T) {
	f := newFixture(t)
	var want []string
	for i := range 25 {
		id := fmt.Sprintf("acc-%02d", (i*7)%25)
		f.open(t, "t1", id, "alice").project(t)
		want = append(want, id)
	}
	f.open(t, "t1", "acc-bob", "bob").project(t)
	f.open(t, "t2", "acc-other", "alice").project(t)

	for _, limit := range []int{1, 7, 25, 100} {
		got := f.all(t, req{path: "/accounts", query: "owner=alice"}, limit)
		var ids []string
		for _, it := range got {
			ids = append(ids, it["accountId"].(string))
			if it["owner"] != "alice" || it["status"] != "open" || num(it, "version") != 1 {
				t.Errorf("item %v", it)
			}
		}
		if fmt.Sprint(ids) != fmt.Sprint(sorted(want)) {
			t.Errorf("limit %d: %v", limit, ids)
		}
	}
	// The default page is 20; the last page has no cursor.
	b := expect(t, f.do(t, req{path: "/accounts", query: "owner=alice"}), 200, "")
	if len(items(t, b)) != queryapi.DefaultLimit || next(t, b) == "" {
		t.Errorf("default page: %d items, cursor %q", len(items(t, b)), next(t, b))
	}
	b = expect(t, f.do(t, req{path: "/accounts", query: "owner=alice&limit=25"}), 200, "")
	if len(items(t, b)) != 25 || next(t, b) != "" {
		t.Errorf("a page of them all: %d items, cursor %q", len(items(t, b)), next(t, b))
	}
	b = expect(t, f.do(t, req{path: "/accounts", query: "owner=nobody"}), 200, "")
	if len(items(t, b)) != 0 || next(t, b) != "" || !strings.Contains(f.do(t, req{path: "/accounts", query: "owner=nobody"}).Body, `"items":[]`) {
		t.Errorf("nobody's accounts: %v", b)
	}
	// An owner given with spaces and symbols, percent-encoded.
	f.open(t, "t1", "acc-x", "Zoë & Co").project(t)
	b = expect(t, f.do(t, req{path: "/accounts", query: "owner=" + url.QueryEscape("Zoë & Co")}), 200, "")
	if its := items(t, b); len(its) != 1 || its[0]["accountId"] != "acc-x" {
		t.Errorf("Zoë & Co: %v", b)
	}

	for _, q := range []string{"", "owner=", "owner=alice&limit=0", "owner=alice&limit=101", "owner=alice&limit=x",
		"owner=alice&cursor=", "owner=alice&fromVersion=2", "owner=a&owner=b",
		"owner=" + strings.Repeat("o", 201), "owner=%01bob", "owner=%FF", "owner=%E2%80%AEbob", "owner=a%E2%80%8Bb", "owner=%EF%BB%BFbob"} {
		expect(t, f.do(t, req{path: "/accounts", query: q}), 400, httpapi.KindValidation)
	}
	// A cursor of another owner's list.
	bob := expect(t, f.do(t, req{path: "/accounts", query: "owner=alice&limit=1"}), 200, "")
	expect(t, f.do(t, req{path: "/accounts", query: "owner=bob&cursor=" + next(t, bob)}), 400, httpapi.KindBadCursor)
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestTransactions(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "t1", "acc-1", "alice")
	for i := range 12 {
		if i%3 == 2 {
			a.withdraw(t, 5)
		} else {
			a.deposit(t, int64(10*(i+1)))
		}
	}
	a.project(t)
	got := f.all(t, req{path: "/accounts/acc-1/transactions"}, 5)
	if len(got) != 12 {
		t.Fatalf("%d entries, want 12", len(got))
	}
	for i, e := range got {
		v := int64(13 - i) // newest first
		if num(e, "version") != v {
			t.Errorf("entry %d: version %v, want %d", i, e["version"], v)
		}
		kind := "deposit"
		if (v-2)%3 == 2 {
			kind = "withdrawal"
		}
		if e["kind"] != kind || e["eventId"] == "" || e["recordedAt"] != a.versions[v-1].Format(time.RFC3339Nano) {
			t.Errorf("entry %d: %v, want a %s", i, e, kind)
		}
	}
	if num(got[0], "balanceAfter") != a.balance {
		t.Errorf("newest balanceAfter %v, want %d", got[0]["balanceAfter"], a.balance)
	}

	// An account without movements: an empty list. No account: 404.
	f.open(t, "t1", "acc-2", "alice")
	b := expect(t, f.do(t, req{path: "/accounts/acc-2/transactions"}), 200, "")
	if len(items(t, b)) != 0 || next(t, b) != "" {
		t.Errorf("no movements: %v", b)
	}
	expect(t, f.do(t, req{path: "/accounts/nope/transactions"}), 404, httpapi.KindNotFound)

	// Cursors belong to their list.
	p := expect(t, f.do(t, req{path: "/accounts/acc-1/transactions", query: "limit=2"}), 200, "")
	expect(t, f.do(t, req{path: "/accounts/acc-2/transactions", query: "cursor=" + next(t, p)}), 400, httpapi.KindBadCursor)
	expect(t, f.do(t, req{path: "/accounts/acc-1/events", query: "cursor=" + next(t, p)}), 400, httpapi.KindBadCursor)
	for _, q := range []string{"limit=0", "limit=1000", "fromVersion=1", "cursor=%%%", "owner=alice"} {
		resp := f.do(t, req{path: "/accounts/acc-1/transactions", query: q})
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d", q, resp.StatusCode)
		}
	}
}

func TestAuditTrail(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "t1", "acc-1", "alice")
	a.deposit(t, 100)
	// A commit of three events: versions 3 to 5.
	a.commit(t, account.MoneyWithdrawn{Amount: 10, BalanceAfter: 90}, account.MoneyDeposited{Amount: 1, BalanceAfter: 91},
		account.MoneyDeposited{Amount: 1, BalanceAfter: 92})
	for range 6 {
		a.deposit(t, 1)
	}
	// versions 1..11
	full := f.all(t, req{path: "/accounts/acc-1/events"}, 100)
	if len(full) != 11 {
		t.Fatalf("%d events, want 11", len(full))
	}
	e3 := full[2]
	if e3["type"] != account.TypeMoneyWithdrawn || num(e3, "schemaVersion") != account.MoneyWithdrawnSchemaVersion ||
		num(e3, "dataSchemaVersion") != account.MoneyWithdrawnSchemaVersion || e3["commandId"] != "cmd-3" ||
		e3["correlationId"] != "corr-3" || e3["causationId"] != "cause-3" || e3["actor"] != "alice" ||
		e3["recordedAt"] != a.versions[2].Format(time.RFC3339Nano) || e3["occurredAt"] == "" || e3["eventId"] == "" {
		t.Errorf("event 3: %v", e3)
	}
	if d, _ := json.Marshal(e3["data"]); string(d) != `{"amount":10,"balanceAfter":90,"channel":"","reference":""}` {
		t.Errorf("event 3 data %s", d)
	}
	// Every page size and start gives the same gapless run, even from
	// inside a commit.
	for _, limit := range []int{1, 2, 3, 4, 10} {
		for _, from := range []int64{1, 2, 3, 4, 5, 6, 11} {
			got := f.all(t, req{path: "/accounts/acc-1/events", query: fmt.Sprint("fromVersion=", from)}, limit)
			if len(got) != int(12-from) {
				t.Fatalf("from %d, limit %d: %d events", from, limit, len(got))
			}
			for i, e := range got {
				if num(e, "version") != from+int64(i) || e["eventId"] != full[from-1+int64(i)]["eventId"] {
					t.Fatalf("from %d, limit %d: event %d is %v", from, limit, i, e)
				}
			}
		}
	}
	b := expect(t, f.do(t, req{path: "/accounts/acc-1/events", query: "fromVersion=12"}), 200, "")
	if len(items(t, b)) != 0 || next(t, b) != "" {
		t.Errorf("past the head: %v", b)
	}
	for _, q := range []string{"", "fromVersion=5"} {
		expect(t, f.do(t, req{path: "/accounts/nope/events", query: q}), 404, httpapi.KindNotFound)
	}
	p := expect(t, f.do(t, req{path: "/accounts/acc-1/events", query: "limit=2"}), 200, "")
	for _, q := range []string{"fromVersion=0", "fromVersion=x", "limit=101", "fromVersion=0&cursor=" + next(t, p), "version=2"} {
		expect(t, f.do(t, req{path: "/accounts/acc-1/events", query: q}), 400, httpapi.KindValidation)
	}
	for _, c := range []string{"x", "eyJmIjoxfQ", next(t, p) + "A", strings.Repeat("A", 2000)} {
		expect(t, f.do(t, req{path: "/accounts/acc-1/events", query: "cursor=" + c}), 400, httpapi.KindBadCursor)
	}
}

func TestRoutesAndAccess(t *testing.T) {
	f := newFixture(t)
	f.open(t, "t1", "acc-1", "alice").project(t)
	expect(t, f.do(t, req{path: "/accounts/acc-1", noAuth: true}), 401, httpapi.KindUnauthorized)
	expect(t, f.do(t, req{path: "/accounts/acc-1", scopes: []string{httpapi.ScopeWrite}}), 403, httpapi.KindForbidden)
	expect(t, f.do(t, req{path: "/accounts", query: "owner=alice", scopes: []string{"ledger:admin"}}), 403, httpapi.KindForbidden)
	for _, p := range []string{"/nowhere", "/accounts/acc-1/deposits", "/accounts//events", "/accounts/acc-1/events/1"} {
		expect(t, f.do(t, req{path: p}), 404, httpapi.KindRouteNotFound)
	}
	resp := f.do(t, req{path: "/accounts/acc-1/events", method: "DELETE"})
	expect(t, resp, 405, httpapi.KindMethodNotAllowed)
	if resp.Headers["Allow"] != "GET" {
		t.Errorf("Allow %q", resp.Headers["Allow"])
	}
	// The correlation id is echoed, or made.
	resp = f.do(t, req{path: "/accounts/acc-1", headers: map[string]string{"X-Correlation-Id": "corr-abc"}})
	if resp.Headers[httpapi.CorrelationHeader] != "corr-abc" {
		t.Errorf("correlation id %q", resp.Headers[httpapi.CorrelationHeader])
	}
}

// One log line per request, with what it read and what it cost.
func TestLogLine(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, "t1", "acc-1", "alice")
	a.deposit(t, 5)
	a.project(t)
	f.logs.Reset()
	f.do(t, req{path: "/accounts/acc-1", query: "minVersion=2", headers: map[string]string{"X-Correlation-Id": "c1"}})
	f.do(t, req{path: "/accounts/acc-1", query: "version=1", headers: map[string]string{"X-Correlation-Id": "c2"}})
	f.do(t, req{path: "/accounts/acc-1/events", query: "limit=1", headers: map[string]string{"X-Correlation-Id": "c3"}})
	f.do(t, req{path: "/accounts/acc-1", query: "version=9", headers: map[string]string{"X-Correlation-Id": "c4"}})
	got, err := f.logs.Lines()
	if err != nil || len(got) != 4 {
		t.Fatalf("%d log lines (%v), want 4:\n%s", len(got), err, f.logs)
	}
	check := func(i int, want map[string]any) {
		t.Helper()
		for k, v := range want {
			if fmt.Sprint(got[i][k]) != fmt.Sprint(v) {
				t.Errorf("line %d: %s = %v, want %v\n%v", i, k, got[i][k], v, got[i])
			}
		}
	}
	check(0, map[string]any{"msg": "query", "correlationId": "c1", "status": 200, "route": "GET /accounts/{id}", "source": "view", "version": 2, "stream": "t1#account#acc-1"})
	// The view is not metered in memory; the events table is.
	check(1, map[string]any{"status": 200, "source": "events", "version": 1, "ddbRequests": 1})
	check(2, map[string]any{"status": 200, "items": 1, "route": "GET /accounts/{id}/events", "ddbRequests": 1})
	check(3, map[string]any{"status": 404, "problem": httpapi.KindVersionNotFound, "level": "INFO"})
}
