package stacktest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"annals/internal/kit/awsconfig"
	"annals/internal/kit/awsconfig/defaultchain"
	"annals/internal/kit/testlog"
	"annals/internal/ledger/soak"
	"annals/internal/localaws/awstest"
)

func long() bool { return os.Getenv("LONG") != "" }

// The project's own soak against the whole local stack: concurrent
// clients on shared accounts, keyed and unkeyed commands, replays in a row
// and at once, crossing transfers, transfers into accounts closing under
// them; then every answer, the audit trails, the transfers, the views and
// the money are checked. make test runs a short one, LONG=1 a long one.
func TestSoak(t *testing.T) {
	t.Parallel()
	cfg := soak.Config{Clients: 8, Accounts: 8, Duration: 10 * time.Second, Seed: 1, Converge: 40 * time.Second}
	if long() {
		cfg = soak.Config{Clients: 16, Accounts: 12, Duration: 2 * time.Minute, Seed: rand.Uint64(), Converge: 6 * time.Minute}
	}
	s, logs := startStackOver(t, awstest.Config(t, "DYNAMODB"))
	cfg.URL, cfg.Progress = s.URL, testWriter{t}
	rep, err := soak.Run(t.Context(), cfg)
	t.Logf("seed %d\n%s", cfg.Seed, rep.Summary())
	if err != nil {
		explain(t, rep, logs)
		t.Fatal(err)
	}
	// The mix did what it is for: else a quiet run would pass.
	counts := rep.Kinds
	for _, want := range []struct {
		what string
		n    int
	}{
		{"accepted deposits", counts[soak.KindDeposit].Accepted},
		{"accepted withdrawals", counts[soak.KindWithdrawal].Accepted},
		{"withdrawals refused", counts[soak.KindWithdrawal].Refused},
		{"accepted transfers", counts[soak.KindTransfer].Accepted},
		{"accounts closed", counts[soak.KindClose].Accepted},
		{"replays", rep.Replays},
		{"completed transfers", rep.Transfers["completed"]},
		{"transfers failed for insufficient funds", rep.Transfers["failed insufficient-funds"]},
		{"transfers refunded from a closed account", rep.Transfers["failed account-closed refunded"]},
	} {
		if want.n == 0 {
			t.Errorf("no %s: the soak did not exercise them", want.what)
		}
	}
}

// The soak again with every AWS call of every function and event source
// going through a Wire that throttles a quarter of them (the server never
// sees those) and fails a twentieth with a 500, half of those after the
// server applied them (the answer is lost). While the faults last, answers
// may say the outcome is unknown or the stack is throttled; none may be a
// 500. Then the faults stop, and everything must converge: nothing lost,
// nothing applied twice, every view equal to the fold.
func TestSoakUnderFaults(t *testing.T) {
	t.Parallel()
	awstest.Config(t, "DYNAMODB") // fails with instructions without local AWS
	cfg, err := defaultchain.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wire := awstest.NewWire()
	cfg.HTTPClient = awsconfig.SafeBodies(&http.Client{Transport: wire})
	s, logs := startStackOver(t, cfg)

	plan := newFaultPlan(2)
	wire.SetPlan(plan.fault)
	sc := soak.Config{
		URL: s.URL, Clients: 8, Accounts: 8, Duration: 15 * time.Second, Seed: 2, Converge: 40 * time.Second,
		Faults: true, LoadDone: func() { wire.SetPlan(nil) }, RetryFor: 20 * time.Second, Progress: testWriter{t},
	}
	if long() {
		sc.Clients, sc.Accounts, sc.Duration, sc.Seed, sc.Converge = 12, 10, time.Minute, rand.Uint64(), 4*time.Minute
	}
	rep, err := soak.Run(t.Context(), sc)
	t.Logf("seed %d; AWS requests under the plan: %s\n%s", sc.Seed, plan, rep.Summary())
	if throttled, failed, lost := plan.injected(); throttled == 0 || failed == 0 || lost == 0 {
		t.Errorf("the plan injected %s: every kind of fault must have happened", plan)
	}
	if err != nil {
		explain(t, rep, logs)
		t.Fatal(err)
	}
	if rep.Kinds[soak.KindDeposit].Accepted == 0 || rep.Kinds[soak.KindTransfer].Accepted == 0 {
		t.Errorf("nothing got through the faults: %+v", rep.Kinds)
	}
}

// faultPlan draws each AWS request's fault: at least a quarter throttled
// (with the service's own code) and a twentieth answered 500, half of
// them after the server applied the request.
type faultPlan struct {
	mu                             sync.Mutex
	rng                            *rand.Rand
	calls, throttled, failed, lost int
}

func newFaultPlan(seed uint64) *faultPlan {
	return &faultPlan{rng: rand.New(rand.NewPCG(seed, seed))}
}

func (p *faultPlan) fault(c awstest.Call) *awstest.Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	switch x := p.rng.Float64(); {
	case x < 0.25:
		p.throttled++
		if strings.HasPrefix(c.Service, "Kinesis") {
			return awstest.Throttled("ProvisionedThroughputExceededException")
		}
		return awstest.Throttled("ThrottlingException")
	case x < 0.275:
		p.failed++
		return awstest.ServerError(false)
	case x < 0.30:
		p.lost++
		return awstest.ServerError(true)
	}
	return nil
}

func (p *faultPlan) injected() (throttled, failed, lost int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.throttled, p.failed, p.lost
}

func (p *faultPlan) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%d calls, %d throttled, %d failed with 500, %d applied and answered 500", p.calls, p.throttled, p.failed, p.lost)
}

// explain logs, for each violation, the stack's log lines of the
// requests it names: the errors behind the answers.
func explain(t *testing.T, rep soak.Report, logs *testlog.Buffer) {
	t.Helper()
	lines, err := logs.Lines()
	if err != nil {
		t.Logf("stack logs: %v", err)
	}
	for i, v := range rep.Violations {
		if i == 40 {
			t.Logf("... %d more violations", len(rep.Violations)-i)
			break
		}
		var found []string
		for _, l := range lines {
			if c, _ := l["correlationId"].(string); c != "" && slices.Contains(v.Correlation, c) {
				found = append(found, fmt.Sprint(l))
			}
		}
		t.Logf("violation %s\n  logs:\n    %s", v, strings.Join(found, "\n    "))
	}
}

// testWriter sends the soak's progress to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// The soak finds what is wrong: between it and a sound stack, a proxy
// applies one unkeyed deposit twice, turns one accepted command into a
// refusal, changes one replay, answers one read with a 500, and lies about
// one account's view (its balance) and history (its oldest movement
// missing). Each must come out as a violation
// naming what it concerns.
func TestSoakFindsWhatIsWrong(t *testing.T) {
	t.Parallel()
	s, logs := startStackOver(t, awstest.Config(t, "DYNAMODB"))
	liar := &lyingProxy{t: t, target: s.URL}
	proxy := httptest.NewServer(liar)
	defer proxy.Close()
	// The lies are found as soon as the views catch up; the deadline only
	// bounds a pipeline slowed by everything else the machine runs.
	rep, err := soak.Run(t.Context(), soak.Config{URL: proxy.URL, Clients: 3, Accounts: 4, Commands: 60, Duration: time.Minute, Seed: 3, Converge: 90 * time.Second})
	t.Logf("%s\n%v", rep.Summary(), err)
	if err == nil {
		t.Fatal("the soak found nothing wrong")
	}
	liar.mu.Lock()
	defer liar.mu.Unlock()
	if liar.duplicated == "" || liar.refused == "" || liar.replay == "" || liar.failed == "" || liar.account == "" {
		t.Fatalf("the proxy did not get to lie about everything: %+v", liar)
	}
	for _, want := range []struct{ check, subject, detail string }{
		{"audit", liar.duplicated, "found 2 times"},
		{"money", "all accounts", "balances add up to"},
		{"audit", liar.refused, "answered 409 conflict, found 1 times"},
		{"replay", liar.replay, "answered 200"},
		{"answer", "", "answered 500 internal"},
		{"view", "account " + liar.account, "view {"},
		{"history", "account " + liar.account, "transaction"},
	} {
		found := false
		for _, v := range rep.Violations {
			found = found || v.Check == want.check && strings.Contains(v.Subject, want.subject) && strings.Contains(v.Detail, want.detail) &&
				(want.check != "answer" || slices.Contains(v.Correlation, liar.failed))
		}
		if !found {
			t.Errorf("no %s violation about %q saying %q", want.check, want.subject, want.detail)
		}
	}
	if t.Failed() {
		explain(t, rep, logs)
	}
	if n := len(rep.Violations); n > 12 {
		t.Errorf("%d violations for six lies: the checks report more than what is wrong", n)
	}
}

// lyingProxy forwards every request to the stack, and lies once of each
// kind (about one account, for the views).
type lyingProxy struct {
	t      *testing.T
	target string

	mu   sync.Mutex
	gets int
	// What it lied about: a deposit's reference, a deposit's or
	// withdrawal's reference, a replayed command's reference, a read's
	// correlation id, an account id.
	duplicated, refused, replay, failed, account string
}

func (p *lyingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in struct {
		Reference string `json:"reference"`
	}
	_ = json.Unmarshal(body, &in)
	keyed := r.Header.Get("Idempotency-Key") != ""
	move := r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/deposits") || strings.HasSuffix(r.URL.Path, "/withdrawals"))
	plainAccount := r.Method == http.MethodGet && r.URL.RawQuery == "" && strings.Count(r.URL.Path, "/") == 2 && strings.HasPrefix(r.URL.Path, "/accounts/")

	p.mu.Lock()
	var lie string
	if r.Method == http.MethodGet {
		p.gets++
	}
	switch {
	case !keyed && move && strings.HasSuffix(r.URL.Path, "/deposits") && p.duplicated == "":
		lie, p.duplicated = "duplicate", in.Reference
	case r.Method == http.MethodGet && p.gets == 2: // the first is the soak's probe
		lie, p.failed = "fail", r.Header.Get("X-Correlation-Id")
	case p.account != "" && r.URL.Path == "/accounts/"+p.account+"/transactions":
		lie = "history"
	}
	p.mu.Unlock()

	if lie == "fail" {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"type":"urn:annals:problem:internal","title":"Internal error","status":500}`)
		return
	}
	status, header, out := p.forward(r, body)
	if lie == "duplicate" {
		p.forward(r, body)
	}

	p.mu.Lock()
	if plainAccount && status == http.StatusOK && (p.account == "" || r.URL.Path == "/accounts/"+p.account) {
		p.account = strings.TrimPrefix(r.URL.Path, "/accounts/")
		lie = "view"
	}
	switch {
	case lie == "view":
		var view map[string]any
		if json.Unmarshal(out, &view) == nil {
			view["balance"] = view["balance"].(float64) + 1
			out, _ = json.Marshal(view)
		}
	case lie == "history":
		var page map[string]json.RawMessage
		var items []json.RawMessage
		if json.Unmarshal(out, &page) == nil && json.Unmarshal(page["items"], &items) == nil && len(items) > 1 {
			page["items"], _ = json.Marshal(items[:len(items)-1])
			out, _ = json.Marshal(page)
		}
	case !keyed && move && lie == "" && status == http.StatusOK && p.refused == "":
		p.refused = in.Reference
		status, header = http.StatusConflict, http.Header{"Content-Type": {"application/problem+json"}}
		out = []byte(`{"type":"urn:annals:problem:conflict","title":"Concurrent changes kept winning; try again","status":409}`)
	case header.Get("Idempotent-Replayed") == "true" && status == http.StatusOK && p.replay == "":
		p.replay = in.Reference
		out = bytes.Replace(out, []byte(`"version":`), []byte(`"version":9`), 1)
	}
	p.mu.Unlock()
	for k, vs := range header {
		if k != "Content-Length" {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(status)
	w.Write(out)
}

func (p *lyingProxy) forward(r *http.Request, body []byte) (int, http.Header, []byte) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		p.t.Error(err)
		return http.StatusBadGateway, http.Header{}, nil
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return http.StatusBadGateway, http.Header{}, nil
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}
