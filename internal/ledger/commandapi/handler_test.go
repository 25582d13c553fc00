package commandapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/commandapi"
)

func TestAccountLifecycle(t *testing.T) { testAccountLifecycle(t) }

func testAccountLifecycle(t *testing.T, opts ...option) {
	f := newFixture(t, opts...)
	resp := f.do(t, req{path: "/accounts", body: `{"owner":"alice","currency":"EUR","overdraftLimit":500}`})
	b := expect(t, resp, 201, "")
	id, _ := b["accountId"].(string)
	if id == "" || num(b, "version") != 1 {
		t.Fatalf("open: %v", b)
	}
	if resp.Headers["Location"] != "/accounts/"+id || resp.Headers["ETag"] != `"1"` {
		t.Errorf("open headers %v, want Location and ETag", resp.Headers)
	}

	b = expect(t, f.deposit(t, id, 1000), 200, "")
	if num(b, "balance") != 1000 || num(b, "version") != 2 || b["accountId"] != id {
		t.Errorf("deposit: %v", b)
	}
	resp = f.do(t, req{path: "/accounts/" + id + "/withdrawals", body: `{"amount":1500,"reference":"rent"}`})
	b = expect(t, resp, 200, "")
	if num(b, "balance") != -500 || resp.Headers["ETag"] != `"3"` {
		t.Errorf("withdraw into the overdraft: %v %v", b, resp.Headers)
	}
	resp = f.do(t, req{path: "/accounts/" + id + "/withdrawals", body: `{"amount":1}`})
	expect(t, resp, 422, account.ErrInsufficientFunds.Kind)

	expect(t, f.do(t, req{path: "/accounts/" + id + "/close"}), 422, account.ErrAccountNotEmpty.Kind)
	expect(t, f.deposit(t, id, 500), 200, "")
	b = expect(t, f.do(t, req{path: "/accounts/" + id + "/close"}), 200, "")
	if b["status"] != "closed" || num(b, "version") != 5 {
		t.Errorf("close: %v", b)
	}
	expect(t, f.deposit(t, id, 1), 422, account.ErrAccountClosed.Kind)
	expect(t, f.do(t, req{path: "/accounts/" + id + "/close", body: `{}`}), 422, account.ErrAccountClosed.Kind)
}

func TestEventsCarryTheirMetadata(t *testing.T) { testEventsCarryTheirMetadata(t) }

func testEventsCarryTheirMetadata(t *testing.T, opts ...option) {
	f := newFixture(t, opts...)
	resp := f.do(t, req{path: "/accounts", body: `{"owner":"bob","currency":"USD"}`, headers: map[string]string{"X-Correlation-Id": "corr-42"}})
	expect(t, resp, 201, "")
	if resp.Headers[httpapi.CorrelationHeader] != "corr-42" {
		t.Errorf("correlation id not echoed: %v", resp.Headers)
	}
	id := decodeBody(t, resp)["accountId"].(string)
	stream, _ := app.AccountStream("t1", id)
	page, err := f.store.Read(t.Context(), stream, 1, 10)
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("read: %v %v", page, err)
	}
	e := page.Events[0]
	if e.CorrelationID != "corr-42" || e.Actor != "alice" || e.CommandID == "" || e.CausationID != e.CommandID || e.Stream.Tenant != "t1" {
		t.Errorf("event metadata %+v", e.Metadata)
	}

	resp = f.deposit(t, id, 5)
	if got := resp.Headers[httpapi.CorrelationHeader]; got == "" || got == "corr-42" {
		t.Errorf("a request without a correlation id got %q, want a new one", got)
	}
	logs := f.logs.String()
	for _, want := range []string{`"correlationId":"corr-42"`, `"ddbRequests":`, `"wcu":`, `"latencyMs":`, `"stream":"t1#account#` + id} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, `"owner":"bob"`) {
		t.Error("a request body reached the logs")
	}
}

func TestBadRequests(t *testing.T) { testBadRequests(t) }

func testBadRequests(t *testing.T, opts ...option) {
	f := newFixture(t, opts...)
	id := f.open(t, 0)
	dep := "/accounts/" + id + "/deposits"
	big := `{"amount":1,"reference":"` + strings.Repeat("x", httpapi.MaxBody) + `"}`
	cases := []struct {
		name    string
		r       req
		status  int
		problem string
		field   string
	}{
		{"missing fields", req{path: "/accounts", body: `{}`}, 400, httpapi.KindValidation, "owner"},
		{"bad currency and overdraft", req{path: "/accounts", body: `{"owner":"a","currency":"eur","overdraftLimit":-1}`}, 400, httpapi.KindValidation, "currency"},
		{"fractional amount", req{path: dep, body: `{"amount":1.5}`}, 400, httpapi.KindValidation, "amount"},
		{"amount as a string", req{path: dep, body: `{"amount":"100"}`}, 400, httpapi.KindValidation, "amount"},
		{"amount too large for int64", req{path: dep, body: `{"amount":99999999999999999999}`}, 400, httpapi.KindValidation, "amount"},
		{"zero amount", req{path: dep, body: `{"amount":0}`}, 400, httpapi.KindValidation, "amount"},
		{"missing amount", req{path: dep, body: `{"reference":"x"}`}, 400, httpapi.KindValidation, "amount"},
		{"unknown field", req{path: dep, body: `{"amount":1,"currency":"EUR"}`}, 400, httpapi.KindValidation, "currency"},
		{"malformed JSON", req{path: dep, body: `{"amount":`}, 400, httpapi.KindMalformedJSON, ""},
		{"array body", req{path: dep, body: `[1]`}, 400, httpapi.KindMalformedJSON, ""},
		{"trailing data", req{path: dep, body: `{"amount":1} {}`}, 400, httpapi.KindMalformedJSON, ""},
		{"no body", req{path: dep, headers: map[string]string{"content-type": "application/json"}}, 400, httpapi.KindMalformedJSON, ""},
		{"wrong media type", req{path: dep, body: `amount=1`, headers: map[string]string{"content-type": "application/x-www-form-urlencoded"}}, 415, httpapi.KindUnsupportedMediaType, ""},
		{"body too large", req{path: dep, body: big}, 413, httpapi.KindPayloadTooLarge, ""},
		{"unknown route", req{path: "/nope"}, 404, httpapi.KindRouteNotFound, ""},
		{"wrong method", req{method: "PUT", path: dep, body: `{"amount":1}`}, 405, httpapi.KindMethodNotAllowed, ""},
		{"unknown account", req{path: "/accounts/nobody/deposits", body: `{"amount":1}`}, 404, httpapi.KindNotFound, ""},
		{"impossible account id", req{path: "/accounts/a%23b/deposits", body: `{"amount":1}`}, 404, httpapi.KindNotFound, ""},
		{"no token", req{path: dep, body: `{"amount":1}`, noAuth: true}, 401, httpapi.KindUnauthorized, ""},
		{"read scope only", req{path: dep, body: `{"amount":1}`, scopes: []string{httpapi.ScopeRead}}, 403, httpapi.KindForbidden, ""},
		{"another tenant's account", req{path: dep, body: `{"amount":1}`, tenant: "t2"}, 404, httpapi.KindNotFound, ""},
		{"malformed If-Match", req{path: dep, body: `{"amount":1}`, headers: map[string]string{"If-Match": "abc"}}, 400, httpapi.KindValidation, "If-Match"},
		{"malformed Idempotency-Key", req{path: dep, body: `{"amount":1}`, headers: map[string]string{"Idempotency-Key": "has space"}}, 400, httpapi.KindValidation, "Idempotency-Key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.do(t, tc.r)
			b := expect(t, resp, tc.status, tc.problem)
			if tc.field != "" && !strings.Contains(fmt.Sprint(b["errors"]), "field:"+tc.field) {
				t.Errorf("errors %v do not name %s", b["errors"], tc.field)
			}
			if resp.Headers[httpapi.CorrelationHeader] == "" {
				t.Error("no correlation id on a problem")
			}
		})
	}
	b := expect(t, f.do(t, req{path: "/accounts", body: `{"owner":"","currency":"XYZ","overdraftLimit":-5}`}), 400, httpapi.KindValidation)
	if errs, _ := b["errors"].([]any); len(errs) != 3 {
		t.Errorf("errors %v, want all three bad fields at once", b["errors"])
	}
	if b := decodeBody(t, f.deposit(t, id, 1)); num(b, "balance") != 1 {
		t.Errorf("after all the bad requests the balance is %v, want only the one good deposit", b)
	}
}

func TestIfMatch(t *testing.T) { testIfMatch(t) }

func testIfMatch(t *testing.T, opts ...option) {
	f := newFixture(t, opts...)
	id := f.open(t, 0)
	dep := "/accounts/" + id + "/deposits"
	deposit := func(ifMatch string) events.APIGatewayV2HTTPResponse {
		return f.do(t, req{path: dep, body: `{"amount":5}`, headers: map[string]string{"If-Match": ifMatch}})
	}
	steps := []struct {
		ifMatch string
		status  int
		version int64 // after a 200
	}{
		{`"1"`, 200, 2},
		{`"1"`, 412, 0},
		// A weak tag never matches by the strong comparison If-Match uses.
		{`W/"2"`, 412, 0},
		{`W/"2", W/"1"`, 412, 0},
		// A list matches when any strong tag is the version.
		{`W/"2", "2"`, 200, 3},
		{`"1", "3", "7"`, 200, 4},
		{`"1","2" ,  "3"`, 412, 0},
		{`"4",`, 200, 5},
		// Any version: the account exists.
		{`*`, 200, 6},
	}
	for _, s := range steps {
		resp := deposit(s.ifMatch)
		if s.status == 412 {
			b := expect(t, resp, 412, httpapi.KindPreconditionFailed)
			if d, _ := b["detail"].(string); !strings.Contains(d, "version") {
				t.Errorf("If-Match %s: 412 detail %q does not say the current version", s.ifMatch, d)
			}
			continue
		}
		if b := expect(t, resp, s.status, ""); num(b, "version") != s.version {
			t.Fatalf("If-Match %s: version %v, want %d", s.ifMatch, b["version"], s.version)
		}
	}
	// Any version of no account: the precondition fails; a version of
	// none is no account, as without If-Match.
	missing := func(ifMatch string) events.APIGatewayV2HTTPResponse {
		return f.do(t, req{path: "/accounts/nobody/deposits", body: `{"amount":5}`, headers: map[string]string{"If-Match": ifMatch}})
	}
	expect(t, missing(`*`), 412, httpapi.KindPreconditionFailed)
	expect(t, missing(`"1"`), 404, httpapi.KindNotFound)
	// A command that * lets run is refused by the account's own rules.
	expect(t, f.do(t, req{path: "/accounts/" + id + "/close", headers: map[string]string{"If-Match": `*`}}), 422, account.ErrAccountNotEmpty.Kind)

	for _, bad := range []string{`abc`, `6`, `"6`, `6"`, `""`, `"x"`, `"-1"`, `"06"`, `"+6"`, `" 6"`, `w/"6"`, `W/ "6"`, `*, "6"`, `"6", *`, `**`, `,`, ` , `, `"6" "7"`, `"6";"7"`} {
		b := expect(t, deposit(bad), 400, httpapi.KindValidation)
		if !strings.Contains(fmt.Sprint(b["errors"]), "field:If-Match") {
			t.Errorf("If-Match %s: errors %v do not name If-Match", bad, b["errors"])
		}
	}
	if b := expect(t, deposit(`"6"`), 200, ""); num(b, "version") != 7 {
		t.Errorf("after the refusals the version is %v, want 7", b["version"])
	}
}

// A list pins the command to the version it matched: a lost race is a
// 412, not decided again. * pins nothing: a lost race is decided again,
// as without If-Match.
func TestIfMatchPinsTheMatchedVersion(t *testing.T) {
	var appends atomic.Int64
	f := newFixture(t, func(c *commandapi.Config, f *fixture) {
		c.ConflictBudget = 100 * time.Millisecond
		f.backend = &alwaysLosing{Backend: f.backend, appends: &appends}
	})
	id := f.open(t, 0)
	dep := "/accounts/" + id + "/deposits"
	expect(t, f.do(t, req{path: dep, body: `{"amount":5}`, headers: map[string]string{"If-Match": `"7", "1"`}}), 412, httpapi.KindPreconditionFailed)
	if n := appends.Load(); n != 2 {
		t.Errorf("%d writes, want the open and one attempt", n)
	}
	expect(t, f.do(t, req{path: dep, body: `{"amount":5}`, headers: map[string]string{"If-Match": `*`}}), 409, httpapi.KindConflict)
	if n := appends.Load(); n < 4 {
		t.Errorf("%d writes, want * decided again after a lost race", n)
	}
}

func TestRacingDepositsAllLand(t *testing.T) { testRacingDepositsAllLand(t) }

// A hot account serializes commutative commands instead of refusing them:
// every one of 16 deposits sent at once without If-Match lands.
func testRacingDepositsAllLand(t *testing.T, opts ...option) {
	f := newFixture(t, opts...)
	id := f.open(t, 0)
	var wg sync.WaitGroup
	const racers = 16
	for i := range racers {
		wg.Go(func() {
			if resp := f.deposit(t, id, int64(i+1)); resp.StatusCode != 200 {
				t.Errorf("racing deposit %d: %d %s", i, resp.StatusCode, resp.Body)
			}
		})
	}
	wg.Wait()
	stream, _ := app.AccountStream("t1", id)
	cur, err := app.NewAccounts(f.store).Load(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(racers * (racers + 1) / 2); cur.State.Balance != want || cur.Head.Version() != racers+1 {
		t.Fatalf("balance %d at %d, want %d at %d", cur.State.Balance, cur.Head.Version(), want, racers+1)
	}
}

// The retries of a command that keeps losing are bounded by time, not by a
// count: it is decided again for the whole budget, then answers 409.
func TestLosingCommandRetriesForItsBudget(t *testing.T) {
	const budget = 300 * time.Millisecond
	var appends atomic.Int64
	f := newFixture(t, func(c *commandapi.Config, f *fixture) {
		c.ConflictBudget = budget
		f.backend = &alwaysLosing{Backend: f.backend, appends: &appends}
	})
	id := f.open(t, 0)
	start := time.Now()
	resp := f.deposit(t, id, 5)
	elapsed := time.Since(start)
	expect(t, resp, 409, httpapi.KindConflict)
	if n := appends.Load(); n <= 5 {
		t.Errorf("%d attempts, want more than a small fixed count", n)
	}
	if elapsed < budget/2 {
		t.Errorf("gave up after %v, before the budget of %v was spent", elapsed, budget)
	}
}

// alwaysLosing lets an account be opened, then loses every later append
// to a writer that got there first.
type alwaysLosing struct {
	eventstore.Backend
	appends *atomic.Int64
}

func (b *alwaysLosing) Write(ctx context.Context, writes []eventstore.Write, token string) error {
	if b.appends.Add(1) == 1 {
		return b.Backend.Write(ctx, writes, token)
	}
	return fmt.Errorf("lost the race: %w", eventstore.ErrConflict)
}

func TestIdempotencyKey(t *testing.T) { testIdempotencyKey(t) }

func testIdempotencyKey(t *testing.T, opts ...option) {
	f := newFixture(t, opts...)
	id := f.open(t, 0)
	dep := "/accounts/" + id + "/deposits"
	key := map[string]string{"Idempotency-Key": "k-1"}
	first := f.do(t, req{path: dep, body: `{"amount":7,"reference":"r"}`, headers: key})
	expect(t, first, 200, "")
	// The same request, serialised differently, is the same request.
	again := f.do(t, req{path: dep, body: `{ "reference": "r", "amount": 7 }`, headers: key})
	expect(t, again, 200, "")
	if again.Body != first.Body || again.Headers["ETag"] != first.Headers["ETag"] || again.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("replay %v %s, want the first response %s", again.Headers, again.Body, first.Body)
	}
	expect(t, f.do(t, req{path: dep, body: `{"amount":8}`, headers: key}), 422, httpapi.KindIdempotencyReused)
	// Another tenant's identical key is another key.
	expect(t, f.do(t, req{path: dep, body: `{"amount":7,"reference":"r"}`, headers: key, tenant: "t2"}), 404, httpapi.KindNotFound)

	// An open under a key opens one account, whose id each repeat is told.
	okey := map[string]string{"Idempotency-Key": "k-open"}
	opened := f.do(t, req{path: "/accounts", body: `{"owner":"bob","currency":"EUR"}`, headers: okey})
	expect(t, opened, 201, "")
	reopened := f.do(t, req{path: "/accounts", body: `{"currency":"EUR","owner":"bob"}`, headers: okey})
	expect(t, reopened, 201, "")
	if reopened.Body != opened.Body || reopened.Headers["Location"] != opened.Headers["Location"] {
		t.Errorf("repeated open answered %s at %s, want %s at %s", reopened.Body, reopened.Headers["Location"], opened.Body, opened.Headers["Location"])
	}
	expect(t, f.do(t, req{path: "/accounts", body: `{"owner":"carol","currency":"EUR"}`, headers: okey}), 422, httpapi.KindIdempotencyReused)

	// A 4xx is final too: replayed, not re-run.
	wkey := map[string]string{"Idempotency-Key": "k-2"}
	expect(t, f.do(t, req{path: "/accounts/" + id + "/withdrawals", body: `{"amount":100}`, headers: wkey}), 422, account.ErrInsufficientFunds.Kind)
	expect(t, f.deposit(t, id, 1000), 200, "")
	expect(t, f.do(t, req{path: "/accounts/" + id + "/withdrawals", body: `{"amount":100}`, headers: wkey}), 422, account.ErrInsufficientFunds.Kind)

	b := decodeBody(t, f.deposit(t, id, 1))
	if num(b, "balance") != 1008 {
		t.Errorf("balance %d, want 7 + 1000 + 1: a keyed command applied twice or a 4xx was re-run", num(b, "balance"))
	}
}

// A key that committed its command is bound to that request for good: the
// very same request gets its first outcome however late it comes, another
// request under it is refused. A key whose request wrote nothing (a
// refusal) is free again after a day, as nothing it did can be repeated.
func TestKeysAndTheirLifetimes(t *testing.T) {
	f := newFixture(t)
	id := f.open(t, 0)
	key := map[string]string{"Idempotency-Key": "k-reused"}
	dep := req{path: "/accounts/" + id + "/deposits", body: `{"amount":500}`, headers: key}
	first := f.do(t, dep)
	expect(t, first, 200, "")

	f.clock.Advance(50 * 24 * time.Hour)
	expect(t, f.do(t, req{path: "/accounts/" + id + "/withdrawals", body: `{"amount":200}`, headers: key}), 422, httpapi.KindIdempotencyReused)
	again := f.do(t, dep)
	expect(t, again, 200, "")
	if again.Body != first.Body || again.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("the first deposit resent 50 days later = %v %s, want its first outcome %s", again.Headers, again.Body, first.Body)
	}

	refusedKey := map[string]string{"Idempotency-Key": "k-refused"}
	big := req{path: "/accounts/" + id + "/withdrawals", body: `{"amount":900}`, headers: refusedKey}
	expect(t, f.do(t, big), 422, account.ErrInsufficientFunds.Kind)
	expect(t, f.deposit(t, id, 1000), 200, "")
	f.clock.Advance(23 * time.Hour)
	if resp := f.do(t, big); resp.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("the refused request resent within the day = %d %v, want its refusal replayed", resp.StatusCode, resp.Headers)
	}
	f.clock.Advance(time.Hour)
	wd := f.do(t, big)
	expect(t, wd, 200, "")
	if b := decodeBody(t, wd); num(b, "balance") != 600 || wd.Headers["Idempotent-Replayed"] == "true" {
		t.Errorf("the refused request a day later = %v %v, want it run: balance 500 + 1000 - 900", wd.Headers, b)
	}
	if b := decodeBody(t, f.deposit(t, id, 1)); num(b, "balance") != 601 {
		t.Errorf("balance %d, want 601: a keyed command applied twice", num(b, "balance"))
	}
}

// Two users of a tenant who happen to send the same key never meet: each
// request runs, and each user's repeat replays their own answer.
func TestKeysBelongToTheirUser(t *testing.T) {
	f := newFixture(t)
	id := f.open(t, 0)
	key := map[string]string{"Idempotency-Key": "k-shared"}
	alice := req{path: "/accounts/" + id + "/deposits", body: `{"amount":5}`, headers: key}
	bob := alice
	bob.subject = "bob"
	first := f.do(t, alice)
	expect(t, first, 200, "")
	second := f.do(t, bob)
	expect(t, second, 200, "")
	if second.Headers["Idempotent-Replayed"] == "true" || num(decodeBody(t, second), "balance") != 10 {
		t.Errorf("bob's request under alice's key answered %v %s, want it run: balance 10", second.Headers, second.Body)
	}
	for _, r := range []struct {
		req  req
		want events.APIGatewayV2HTTPResponse
	}{{alice, first}, {bob, second}} {
		again := f.do(t, r.req)
		if again.Body != r.want.Body || again.Headers["Idempotent-Replayed"] != "true" {
			t.Errorf("%s's repeat answered %s, want their own first answer %s", r.req.subject, again.Body, r.want.Body)
		}
	}
}

func TestIdempotencyKeyInFlight(t *testing.T) { testIdempotencyKeyInFlight(t) }

// contending answers the first guarded write as DynamoDB answers a
// transaction that meets another one writing the same guard.
type contending struct {
	eventstore.Backend
	done atomic.Bool
}

func (c *contending) Write(ctx context.Context, writes []eventstore.Write, token string) error {
	if len(writes) == 2 && c.done.CompareAndSwap(false, true) {
		return &eventstore.ContendedError{Writes: []int{1}, Err: errors.New("TransactionConflict")}
	}
	return c.Backend.Write(ctx, writes, token)
}

func testIdempotencyKeyInFlight(t *testing.T, opts ...option) {
	f := newFixture(t, append(opts, func(c *commandapi.Config, f *fixture) {
		f.backend = &contending{Backend: f.backend}
	})...)
	id := f.open(t, 0)
	r := req{path: "/accounts/" + id + "/deposits", body: `{"amount":7}`, headers: map[string]string{"Idempotency-Key": "k-busy"}}
	resp := f.do(t, r)
	expect(t, resp, 409, httpapi.KindIdempotencyInFlight)
	if resp.Headers["Retry-After"] != "1" {
		t.Errorf("Retry-After %q, want 1: the other request's transaction is being written", resp.Headers["Retry-After"])
	}
	// Not final: the retry runs, and applies once.
	expect(t, f.do(t, r), 200, "")
	if b := decodeBody(t, f.deposit(t, id, 1)); num(b, "balance") != 8 {
		t.Errorf("balance %d, want 8", num(b, "balance"))
	}
}

// losing loses the answer of the first guarded write after applying it,
// as a timeout or a 5xx after DynamoDB committed would.
type losing struct {
	eventstore.Backend
	done atomic.Bool
}

func (l *losing) Write(ctx context.Context, writes []eventstore.Write, token string) error {
	err := l.Backend.Write(ctx, writes, token)
	if err == nil && len(writes) == 2 && l.done.CompareAndSwap(false, true) {
		return fmt.Errorf("connection reset: %w", eventstore.ErrUnknownOutcome)
	}
	return err
}

func TestRetryAfterALostResponseDoesNotApplyTwice(t *testing.T) { testRetryAfterALostResponse(t) }

func testRetryAfterALostResponse(t *testing.T, opts ...option) {
	f := newFixture(t, append(opts, func(c *commandapi.Config, f *fixture) {
		f.backend = &losing{Backend: f.backend}
	})...)
	id := f.open(t, 0)
	r := req{path: "/accounts/" + id + "/deposits", body: `{"amount":7}`, headers: map[string]string{"Idempotency-Key": "k-lost"}}
	// The store's answer was lost: it resends, recognises its own commit,
	// and the request succeeds.
	first := f.do(t, r)
	expect(t, first, 200, "")
	// The client never saw that answer either, and retries.
	again := f.do(t, r)
	expect(t, again, 200, "")
	if again.Body != first.Body || again.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("retry answered %v %s, want the first answer %s", again.Headers, again.Body, first.Body)
	}
	stream, _ := app.AccountStream("t1", id)
	cur, err := app.NewAccounts(f.store).Load(t.Context(), stream)
	if err != nil || cur.State.Balance != 7 || cur.Head.Version() != 2 {
		t.Fatalf("balance %d at %d (%v), want one deposit of 7", cur.State.Balance, cur.Head.Version(), err)
	}
}

func TestConcurrentRequestsWithOneKeyApplyOnce(t *testing.T) {
	testConcurrentRequestsWithOneKeyApplyOnce(t)
}

func testConcurrentRequestsWithOneKeyApplyOnce(t *testing.T, opts ...option) {
	f := newFixture(t, opts...)
	id := f.open(t, 0)
	r := req{path: "/accounts/" + id + "/deposits", body: `{"amount":3}`, headers: map[string]string{"Idempotency-Key": "k-race"}}
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() { statuses[i] = f.do(t, r).StatusCode })
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		switch s {
		case 200:
			ok++
		case 409:
		default:
			t.Errorf("status %d", s)
		}
	}
	stream, _ := app.AccountStream("t1", id)
	cur, _ := app.NewAccounts(f.store).Load(t.Context(), stream)
	if ok < 1 || cur.State.Balance != 3 {
		t.Fatalf("%d successes, balance %d: want at least one success and exactly one deposit", ok, cur.State.Balance)
	}
}

// failing makes every backend call fail with err.
type failing struct {
	eventstore.Backend
	err error
}

func (b failing) Query(context.Context, eventstore.Query) (eventstore.Page, error) {
	return eventstore.Page{}, b.err
}

func TestBackendFailures(t *testing.T) {
	for _, tc := range []struct {
		err     error
		status  int
		problem string
	}{
		{fmt.Errorf("query: %w", eventstore.ErrThrottled), 503, httpapi.KindThrottled},
		{fmt.Errorf("query: %w", eventstore.ErrUnavailable), 503, httpapi.KindUnavailable},
		{errors.New("secret internal detail"), 500, httpapi.KindInternal},
	} {
		f := newFixture(t, func(c *commandapi.Config, f *fixture) {
			f.backend = failing{eventstore.NewMemoryBackend(), tc.err}
		})
		resp := f.deposit(t, "acc", 1)
		expect(t, resp, tc.status, tc.problem)
		if tc.status == 503 && resp.Headers["Retry-After"] == "" {
			t.Error("503 without Retry-After")
		}
		if strings.Contains(resp.Body, "secret") {
			t.Errorf("internal detail leaked: %s", resp.Body)
		}
		if !strings.Contains(f.logs.String(), tc.err.Error()) {
			t.Errorf("the cause is not in the logs: %s", f.logs.String())
		}
	}
}
