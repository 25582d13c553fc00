package soak

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"annals/internal/ledger/account"
)

func TestConfigNeedsAStackAndAnEnd(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Clients: 1, Accounts: 2, Duration: time.Second}, "no URL"},
		{Config{URL: "http://x", Accounts: 2, Duration: time.Second}, "at least 1 client and 2 accounts"},
		{Config{URL: "http://x", Clients: 1, Accounts: 1, Duration: time.Second}, "at least 1 client and 2 accounts"},
		{Config{URL: "http://x", Clients: 1, Accounts: 2}, "neither a duration nor a number of commands"},
	} {
		_, err := Run(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// Which answers end a keyed command: the protocol's final ones, not those
// that release the key or find it busy.
func TestFinalAnswers(t *testing.T) {
	for _, tc := range []struct {
		a     answer
		final bool
	}{
		{answer{status: 200}, true},
		{answer{status: 201}, true},
		{answer{status: 422, problem: "insufficient-funds"}, true},
		{answer{status: 409, problem: "account-exists"}, true},
		{answer{status: 404, problem: "not-found"}, true},
		{answer{status: 409, problem: "conflict"}, false},
		{answer{status: 409, problem: "idempotency-in-flight"}, false},
		{answer{status: 503, problem: "throttled"}, false},
		{answer{status: 503, problem: "unavailable"}, false},
		{answer{status: 503, problem: "outcome-unknown"}, false},
		{answer{status: 500, problem: "internal"}, false},
		{answer{err: context.DeadlineExceeded}, false},
	} {
		if got := tc.a.final(); got != tc.final {
			t.Errorf("%s final = %v, want %v", tc.a.what(), got, tc.final)
		}
	}
}

// A replay is compared without the correlation id, which is each
// request's own, and with everything else.
func TestReplayComparison(t *testing.T) {
	first := answer{status: 422, etag: "", body: []byte(`{"type":"urn:annals:problem:insufficient-funds","status":422,"correlationId":"a"}`)}
	for _, tc := range []struct {
		b    answer
		same bool
	}{
		{answer{status: 422, body: []byte(`{"status":422,"type":"urn:annals:problem:insufficient-funds","correlationId":"b"}`)}, true},
		{answer{status: 422, body: []byte(`{"type":"urn:annals:problem:insufficient-funds","status":422}`)}, true},
		{answer{status: 422, body: []byte(`{"type":"urn:annals:problem:account-closed","status":422,"correlationId":"a"}`)}, false},
		{answer{status: 409, body: first.body}, false},
		{answer{status: 422, etag: `"3"`, body: first.body}, false},
		{answer{status: 422, body: []byte(`not json`)}, false},
	} {
		if got := first.sameAs(tc.b); got != tc.same {
			t.Errorf("sameAs(%d %s) = %v, want %v", tc.b.status, tc.b.body, got, tc.same)
		}
	}
}

// The replay rules on a keyed command's answers: all final answers equal,
// at most one not marked replayed, and the first one not marked when no
// earlier request could have run the command.
func TestReplayRules(t *testing.T) {
	ok := answer{status: 200, body: []byte(`{"version":2}`), corr: "c1"}
	replay := answer{status: 200, body: []byte(`{"version":2}`), replayed: true, corr: "c2"}
	other := answer{status: 200, body: []byte(`{"version":3}`), replayed: true, corr: "c3"}
	busy := answer{status: 409, problem: "idempotency-in-flight", corr: "c4"}
	lost := answer{status: 503, problem: "outcome-unknown", retryAfter: "1", corr: "c5"}
	for _, tc := range []struct {
		name    string
		answers []answer
		want    string // in the violation, "" for none
	}{
		{"once", []answer{ok}, ""},
		{"twice in a row", []answer{ok, replay}, ""},
		{"at once", []answer{busy, ok, replay}, ""},
		{"after a lost answer", []answer{lost, replay}, ""},
		{"a replay that differs", []answer{ok, other}, "then 200 (replayed)"},
		{"two originals", []answer{ok, ok}, "2 final answers not marked Idempotent-Replayed"},
		{"a replay of nothing", []answer{replay, replay}, "the first one too"},
	} {
		r := newRun(Config{})
		c := &command{kind: KindDeposit, ref: "r", key: "k", mode: keyedTwice, answers: tc.answers}
		r.checkReplays(c)
		switch {
		case tc.want == "" && len(r.violations) > 0:
			t.Errorf("%s: %v", tc.name, r.violations)
		case tc.want != "" && (len(r.violations) != 1 || !strings.Contains(r.violations[0].Detail, tc.want)):
			t.Errorf("%s: %v, want one saying %q", tc.name, r.violations, tc.want)
		}
	}
}

// Only answers no request may get are violations: a 5xx or 429, or a
// 503 of a failing AWS without Retry-After or without faults.
func TestAllowedAnswers(t *testing.T) {
	for _, tc := range []struct {
		a      answer
		faults bool
		ok     bool
	}{
		{answer{status: 200}, false, true},
		{answer{status: 422}, false, true},
		{answer{status: 503, problem: "throttled", retryAfter: "1"}, true, true},
		{answer{status: 503, problem: "throttled", retryAfter: "1"}, false, false},
		{answer{status: 503, problem: "unavailable", retryAfter: "1"}, true, true},
		{answer{status: 503, problem: "throttled"}, true, false},
		{answer{status: 429, problem: "throttled", retryAfter: "1"}, true, false},
		{answer{status: 503, problem: "outcome-unknown", retryAfter: "1"}, true, true},
		{answer{status: 503, problem: "outcome-unknown", retryAfter: "1"}, false, false},
		{answer{status: 503, problem: "internal", retryAfter: "1"}, true, false},
		{answer{status: 500, problem: "internal"}, true, false},
		{answer{status: 502}, true, false},
		{answer{err: context.Canceled}, true, false},
	} {
		r := newRun(Config{Faults: tc.faults})
		if got := r.allowed(tc.a, "x"); got != tc.ok || (len(r.violations) == 0) != tc.ok {
			t.Errorf("allowed(%s, faults %v) = %v with %v, want %v", tc.a.what(), tc.faults, got, r.violations, tc.ok)
		}
	}
}

// The trail checks catch a balance that does not follow, a withdrawal
// below the overdraft and an event after the close.
func TestTrailChecks(t *testing.T) {
	acc := &subject{id: "a", owner: "o", overdraft: 100, open: &command{answers: []answer{{corr: "c"}}}}
	ev := func(v int64, e account.Event) *item {
		return &item{Version: v, Type: e.EventType(), CorrelationID: "c", event: e, account: acc}
	}
	good := []*item{
		ev(1, account.AccountOpened{AccountID: "a", DataSubject: "a", Owner: "o", OwnerIndex: "i", Currency: currency, OverdraftLimit: 100}),
		ev(2, account.MoneyDeposited{Amount: 50, BalanceAfter: 50}),
		ev(3, account.MoneyWithdrawn{Amount: 150, BalanceAfter: -100}),
	}
	for _, tc := range []struct {
		name  string
		items []*item
		want  string
	}{
		{"sound", good, ""},
		{"a balance from nowhere", append(good[:3:3], ev(4, account.MoneyDeposited{Amount: 5, BalanceAfter: 10})), "balance 10 after depositing 5 on -100"},
		{"below the overdraft", append(good[:3:3], ev(4, account.MoneyWithdrawn{Amount: 1, BalanceAfter: -101})), "below the overdraft limit 100"},
		{"after the close", append(good[:3:3], ev(4, account.AccountClosed{}), ev(5, account.MoneyDeposited{Amount: 100, BalanceAfter: 0})), "after the account closed"},
		{"another account's open", []*item{ev(1, account.AccountOpened{AccountID: "b", Owner: "o", Currency: currency, OverdraftLimit: 100})}, "want {AccountID:a"},
		{"an open without the owner's index", []*item{ev(1, account.AccountOpened{AccountID: "a", DataSubject: "a", Owner: "o", Currency: currency, OverdraftLimit: 100})}, "want {AccountID:a"},
	} {
		r := newRun(Config{})
		r.checkTrails([]*trail{{account: acc, items: tc.items}})
		got := ""
		for _, v := range r.violations {
			got += v.Detail + "\n"
		}
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestHistoryDifferences(t *testing.T) {
	a := transaction{EventID: "e1", Version: 2, Kind: "deposit", Amount: 5, BalanceAfter: 5}
	b := transaction{EventID: "e2", Version: 3, Kind: "withdrawal", Amount: 1, BalanceAfter: 4}
	for _, tc := range []struct {
		got, want []transaction
		diff      string
	}{
		{[]transaction{b, a}, []transaction{b, a}, ""},
		{[]transaction{a}, []transaction{b, a}, "transaction 0 is"},
		{[]transaction{b}, []transaction{b, a}, "the first missing is"},
		{[]transaction{b, a}, []transaction{b}, "the first extra is"},
	} {
		if d := diffHistory(tc.got, tc.want); !strings.Contains(d, tc.diff) || (tc.diff == "") != (d == "") {
			t.Errorf("diffHistory = %q, want %q", d, tc.diff)
		}
	}
}

// Violations found again by a later pass of the checks are reported once.
func TestViolationsAreReportedOnce(t *testing.T) {
	r := newRun(Config{})
	v := Violation{Check: "view", Subject: "account a", Detail: "d", Correlation: []string{"c1"}}
	r.violate(v)
	v.Correlation = []string{"c2"}
	r.violate(v)
	if len(r.violations) != 1 {
		t.Errorf("%v, want one violation", r.violations)
	}
	if s := r.report(time.Second, 0).Violations[0].String(); s != "view: account a: d (correlation ids c1)" {
		t.Errorf("violation reads %q", s)
	}
}

// A concurrent duplicate's 409 idempotency-in-flight is expected only
// while the other request is in flight: attempt tells them apart by when
// each answer came.
func TestOverlapIsToldByTime(t *testing.T) {
	stack := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	srv := httptest.NewServer(stack)
	defer srv.Close()
	r := newRun(Config{URL: srv.URL, Client: srv.Client()})
	c := &command{method: http.MethodGet, path: "/"}
	first, overlapped := r.attempt(context.Background(), c)
	if overlapped || first.at.IsZero() || first.at.Before(first.sent) {
		t.Fatalf("a lone request: overlapped %v, sent %v, answered %v", overlapped, first.sent, first.at)
	}
	if _, overlapped := r.attempt(context.Background(), c); overlapped {
		t.Error("a request sent after the first was answered overlaps it")
	}
	// An answer that came after this request was sent overlaps it.
	c.answers = append(c.answers, answer{at: time.Now().Add(time.Hour)})
	if _, overlapped := r.attempt(context.Background(), c); !overlapped {
		t.Error("a request answered while another was in flight does not overlap it")
	}
}
