package stacktest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/localaws/awstest"
)

// The whole API under generated requests, against the local stack: every
// route, and routes that are not, with bodies, headers, paths and query
// strings valid and invalid (malformed and duplicated JSON, wrong types,
// huge and tiny numbers, invalid UTF-8, control, bidirectional and
// zero-width characters, odd If-Match and Idempotency-Key values, other
// methods and media types). No answer may be a 5xx; every error must be
// problem+json of a type docs/errors.md documents, with its status; and no
// request that was refused may have written a commit: every commit in the
// events table carries the correlation id of a request answered 2xx. make
// test runs it for a few seconds, LONG=1 for minutes with a random seed.
//
// Like the contract test it runs before the package's parallel stacks,
// not among them: they all share one single-threaded moto, and its load
// would turn the soaks' reads into timeouts.
func TestFuzzTheWholeAPI(t *testing.T) {
	seed, budget := uint64(1), 8*time.Second
	if long() {
		seed, budget = rand.Uint64(), 3*time.Minute
	}
	t.Logf("seed %d, for %s", seed, budget)
	documented := documentedProblems(t)
	s, logs := startStack(t)
	f := &apiFuzzer{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), url: s.URL, accepted: map[string]bool{}}

	// Accounts to aim at: commands on them can be accepted.
	for i := range 3 {
		resp := f.send(t, http.MethodPost, "/accounts", map[string]string{"Content-Type": "application/json"},
			[]byte(fmt.Sprintf(`{"owner":"fuzz-%d","currency":"EUR","overdraftLimit":100}`, i)))
		var opened struct {
			AccountID string `json:"accountId"`
		}
		if resp.status != http.StatusCreated || json.Unmarshal(resp.body, &opened) != nil {
			t.Fatalf("open: %d %s", resp.status, resp.body)
		}
		f.accounts = append(f.accounts, opened.AccountID)
	}

	kinds := map[int]int{}
	for deadline := time.Now().Add(budget); time.Now().Before(deadline); {
		method, path, headers, body := f.request()
		resp := f.send(t, method, path, headers, body)
		kinds[resp.status/100]++
		what := fmt.Sprintf("%s %s %q (headers %q)", method, path, truncate(body, 200), headers)
		if resp.status >= 500 {
			t.Errorf("%s: %d %s", what, resp.status, resp.body)
			continue
		}
		if resp.status < 400 || method == http.MethodHead {
			continue
		}
		if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("%s: %d with Content-Type %q, want problem+json", what, resp.status, ct)
			continue
		}
		var p struct {
			Type   string `json:"type"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal(resp.body, &p); err != nil {
			t.Errorf("%s: %d body %s is not JSON: %v", what, resp.status, resp.body, err)
			continue
		}
		kind := strings.TrimPrefix(p.Type, "urn:annals:problem:")
		if want, ok := documented[kind]; !ok || want != resp.status || p.Status != resp.status {
			t.Errorf("%s: %d %s: not a documented problem with its status (docs/errors.md says %q is %d)", what, resp.status, resp.body, kind, want)
		}
	}
	t.Logf("%d requests: %v by status class", f.sent, kinds)
	if kinds[2] == 0 || kinds[4] == 0 {
		t.Errorf("answers by class %v: the requests were not varied enough to prove anything", kinds)
	}

	// Nothing refused was written: every commit came from an accepted
	// request (the process manager's commits carry their transfer's).
	if err := s.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	store := eventstore.New(dynamostore.New(dynamodb.NewFromConfig(awstest.Config(t, "DYNAMODB")), s.Names.Tables["EventsTable"]))
	commits := 0
	for cursor := (*eventstore.ScanCursor)(nil); ; {
		page, err := store.ScanCommits(t.Context(), eventstore.CommitScan{Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Commits {
			commits++
			if corr := c[0].Metadata.CorrelationID; !f.accepted[corr] {
				t.Errorf("commit %s at %d carries correlation id %q, of a request that was not accepted", c[0].Stream, c[0].Version, corr)
			}
		}
		if cursor = page.Next; cursor == nil {
			break
		}
	}
	t.Logf("%d commits, each from an accepted request", commits)
	if t.Failed() {
		t.Logf("stack logs:\n%s", logs.String())
	}
}

// documentedProblems reads the problem types and statuses of
// docs/errors.md's table.
func documentedProblems(t *testing.T) map[string]int {
	t.Helper()
	doc, err := os.ReadFile("../../../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| (\\d{3}) \\|").FindAllStringSubmatch(string(doc), -1) {
		var status int
		fmt.Sscan(m[2], &status)
		out[m[1]] = status
	}
	if len(out) < 20 {
		t.Fatalf("docs/errors.md lists %d problem types: the table moved?", len(out))
	}
	return out
}

type apiFuzzer struct {
	rnd      *rand.Rand
	url      string
	accounts []string
	sent     int
	// accepted holds the correlation ids of the requests answered 2xx.
	accepted map[string]bool
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// send sends one request under a correlation id of its own.
func (f *apiFuzzer) send(t *testing.T, method, path string, headers map[string]string, body []byte) answer {
	t.Helper()
	f.sent++
	corr := fmt.Sprintf("fuzz-%08d", f.sent)
	req, err := http.NewRequestWithContext(t.Context(), method, f.url+path, bytes.NewReader(body))
	if err != nil {
		// A path no client can send: skip it.
		return answer{status: http.StatusBadRequest, header: http.Header{"Content-Type": {"application/problem+json"}}, body: []byte(`{"type":"urn:annals:problem:validation","status":400}`)}
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("X-Correlation-Id", corr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %.80s...: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode/100 == 2 {
		f.accepted[corr] = true
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func (f *apiFuzzer) pick(options ...string) string { return options[f.rnd.IntN(len(options))] }

// id is an account or transfer id: one that exists, or not, or no id at all.
func (f *apiFuzzer) id() string {
	switch f.rnd.IntN(6) {
	case 0, 1, 2:
		return f.accounts[f.rnd.IntN(len(f.accounts))]
	case 3:
		return f.text()
	case 4:
		return strings.Repeat("a", 1+f.rnd.IntN(600))
	}
	return f.pick("", "..", "%2e%2e", "%00", "%ff", "01JABCDEFGHJKMNPQRSTVWXYZ0", "acc%2Fx", "é")
}

// text is a string of a class a rule may refuse.
func (f *apiFuzzer) text() string {
	return f.pick("", " ", "ok", "EUR", "eur", "XXX", "€", "\u202eevil", "a\u200bb", "\u2066x\u2069", "\ufeff", "\x00", "\x1b[31m",
		"tab\there", "line\nbreak", strings.Repeat("x", 300), strings.Repeat("é", 200), "😀", "<script>", "' OR 1=1 --")
}

// number is a JSON number, or something in its place.
func (f *apiFuzzer) number() string {
	return f.pick("0", "1", "-1", "7", "100", "1250", "1e3", "1.5", "-0", "9007199254740991", "9007199254740992", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "1e400", `"5"`, "null", "true", "[]", "{}", "00", "0x10")
}

func (f *apiFuzzer) value() string {
	if f.rnd.IntN(2) == 0 {
		return f.number()
	}
	b, _ := json.Marshal(f.text())
	if f.rnd.IntN(8) == 0 {
		// Raw bytes JSON may not carry: invalid UTF-8, a lone surrogate.
		return f.pick(`"\xff\xfe"`, `"\ud800"`, `"a\udc00b"`, "\"\x01\"")
	}
	return string(b)
}

// object is a JSON object of some of the names the routes know, their
// case variants, repeats and strangers.
func (f *apiFuzzer) object() string {
	names := []string{"amount", "reference", "owner", "currency", "overdraftLimit", "fromAccountId", "toAccountId", "accountId",
		"Amount", "AMOUNT", "ownerX", "transferId", "__proto__", ""}
	var members []string
	for range f.rnd.IntN(5) {
		name := names[f.rnd.IntN(len(names))]
		v := f.value()
		switch name {
		case "fromAccountId", "toAccountId", "accountId":
			if f.rnd.IntN(2) == 0 {
				b, _ := json.Marshal(f.id())
				v = string(b)
			}
		case "currency":
			if f.rnd.IntN(2) == 0 {
				v = `"EUR"`
			}
		}
		members = append(members, fmt.Sprintf("%q:%s", name, v))
	}
	return "{" + strings.Join(members, ",") + "}"
}

// valid is a body a command route accepts, on a good day.
func (f *apiFuzzer) valid(path string) []byte {
	switch {
	case path == "/accounts":
		return []byte(fmt.Sprintf(`{"owner":"fuzz owner %d","currency":"EUR"}`, f.rnd.IntN(100)))
	case path == "/transfers":
		return []byte(fmt.Sprintf(`{"fromAccountId":%q,"toAccountId":%q,"amount":%d,"reference":"fuzz"}`,
			f.accounts[f.rnd.IntN(len(f.accounts))], f.accounts[f.rnd.IntN(len(f.accounts))], 1+f.rnd.IntN(50)))
	case strings.HasSuffix(path, "/close"):
		return nil
	}
	return []byte(fmt.Sprintf(`{"amount":%d,"reference":"fuzz %d"}`, 1+f.rnd.IntN(50), f.rnd.IntN(1000)))
}

func (f *apiFuzzer) body() []byte {
	switch f.rnd.IntN(12) {
	case 0:
		return nil
	case 1:
		return []byte(f.pick("", "null", "[]", `"x"`, "{", "{}}", `{"amount":}`, "\xff\xfe", `{"amount":1}{"amount":2}`, "[{}]"))
	case 2:
		return bytes.Repeat([]byte(`{"amount":1,"reference":"`+strings.Repeat("r", 1000)+`"}`), 70)
	case 3:
		return []byte(`{"amount":1,"reference":"` + strings.Repeat("r", 70_000) + `"}`)
	}
	return []byte(f.object())
}

func (f *apiFuzzer) query() string {
	params := []string{"minVersion", "version", "at", "owner", "limit", "cursor", "fromVersion", "from", "to", "bogus"}
	values := []string{"", "1", "0", "-1", "3", "abc", "2026-12-06", "2026-12-06T10:00:00Z", "1e3", "99999999999999999999", "fuzz-0", f.id(), f.text()}
	var parts []string
	for range f.rnd.IntN(4) {
		// What a client can send: escaped, or a raw escape of a byte no
		// text may hold.
		v := url.QueryEscape(values[f.rnd.IntN(len(values))])
		if f.rnd.IntN(10) == 0 {
			v = f.pick("%ff", "%00", "%e2%80%ae")
		}
		parts = append(parts, params[f.rnd.IntN(len(params))]+"="+v)
	}
	if len(parts) == 0 {
		return ""
	}
	return "?" + strings.Join(parts, "&")
}

func (f *apiFuzzer) headers(post bool) map[string]string {
	h := map[string]string{}
	if post {
		h["Content-Type"] = f.pick("application/json", "application/json", "application/json; charset=utf-8", "text/plain", "", "application/problem+json", "APPLICATION/JSON")
	}
	if f.rnd.IntN(3) == 0 {
		h["If-Match"] = f.pick(`"1"`, `"2"`, `W/"1"`, `*`, `"1", "2"`, "1", `"-1"`, `"abc"`, `""`, `"99999999999999999999"`)
	}
	if f.rnd.IntN(3) == 0 {
		h["Idempotency-Key"] = f.pick("k-1", "k-2", "k-3", "has space", strings.Repeat("k", 300), "é", "k€", " k-1 ")
	}
	if h["Content-Type"] == "" {
		delete(h, "Content-Type")
	}
	return h
}

// request is one generated request.
func (f *apiFuzzer) request() (method, path string, headers map[string]string, body []byte) {
	id := f.id()
	commands := []string{"/accounts", "/accounts/" + id + "/deposits", "/accounts/" + id + "/withdrawals", "/accounts/" + id + "/close", "/transfers"}
	queries := []string{"/accounts/" + id, "/accounts", "/accounts/" + id + "/transactions", "/accounts/" + id + "/events",
		"/accounts/" + id + "/statements", "/transfers/" + id}
	others := []string{"/", "/nope", "/accounts/" + id + "/nope", "/accounts/" + id + "/deposits/x", "//accounts", "/ACCOUNTS", "/transfers/" + id + "/x"}
	switch n := f.rnd.IntN(10); {
	case n < 5:
		method, path = http.MethodPost, commands[f.rnd.IntN(len(commands))]
		body = f.body()
		if f.rnd.IntN(3) == 0 {
			body = f.valid(path)
		}
	case n < 8:
		method, path = http.MethodGet, queries[f.rnd.IntN(len(queries))]+f.query()
	default:
		method = f.pick(http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions)
		path = slices.Concat(commands, queries, others)[f.rnd.IntN(len(commands)+len(queries)+len(others))]
		if f.rnd.IntN(2) == 0 {
			body = f.body()
		}
	}
	return method, path, f.headers(method == http.MethodPost), body
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
