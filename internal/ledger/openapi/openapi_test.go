package openapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/httpapi/httpapitest"
	"annals/internal/kit/personal"
	"annals/internal/ledger/account"
	"annals/internal/ledger/commandapi"
	"annals/internal/ledger/openapi"
	"annals/internal/ledger/openapi/openapitest"
	"annals/internal/ledger/queryapi"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/samtemplate"
)

// document is the contract as plain JSON, numbers kept exact.
func document(t *testing.T) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(openapitest.Load(t).JSON))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// at follows a JSON pointer's tokens (unescaped) from v.
func at(t *testing.T, v any, tokens ...string) any {
	t.Helper()
	for i, tok := range tokens {
		var ok bool
		switch c := v.(type) {
		case map[string]any:
			v, ok = c[tok]
		case []any:
			n, err := strconv.Atoi(tok)
			if ok = err == nil && n >= 0 && n < len(c); ok {
				v = c[n]
			}
		}
		if !ok {
			t.Fatalf("%s has nothing at /%s", openapi.File, strings.Join(tokens[:i+1], "/"))
		}
	}
	return v
}

func str(t *testing.T, v any, tokens ...string) string {
	t.Helper()
	s, ok := at(t, v, tokens...).(string)
	if !ok {
		t.Fatalf("%s: /%s is not a string", openapi.File, strings.Join(tokens, "/"))
	}
	return s
}

func integer(t *testing.T, v any, tokens ...string) int64 {
	t.Helper()
	n, ok := at(t, v, tokens...).(json.Number)
	if !ok {
		t.Fatalf("%s: /%s is not a number", openapi.File, strings.Join(tokens, "/"))
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("%s: /%s = %s is not an integer", openapi.File, strings.Join(tokens, "/"), n)
	}
	return i
}

func list(t *testing.T, v any, tokens ...string) []string {
	t.Helper()
	list, ok := at(t, v, tokens...).([]any)
	if !ok {
		t.Fatalf("%s: /%s is not a list", openapi.File, strings.Join(tokens, "/"))
	}
	out := make([]string, len(list))
	for i, e := range list {
		if out[i], ok = e.(string); !ok {
			t.Fatalf("%s: /%s/%d is not a string", openapi.File, strings.Join(tokens, "/"), i)
		}
	}
	return out
}

// operations lists the document's operations as route keys, each with the
// scopes its security requirement names.
func operations(t *testing.T, doc map[string]any) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for path, item := range at(t, doc, "paths").(map[string]any) {
		for method, op := range item.(map[string]any) {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
			default:
				continue
			}
			key := strings.ToUpper(method) + " " + path
			security, ok := op.(map[string]any)["security"].([]any)
			if !ok || len(security) != 1 {
				t.Errorf("%s: %s has no single security requirement of its own", openapi.File, key)
				out[key] = nil
				continue
			}
			out[key] = list(t, security[0], "jwt")
		}
	}
	return out
}

// Every route the template gives API Gateway is an operation of the
// document, and every operation one of the template's routes; each
// function's routes are those its handler serves; each operation needs
// the scope API Gateway's authorizer asks of its route.
func TestTheDocumentListsEveryRoute(t *testing.T) {
	doc := document(t)
	ops := operations(t, doc)
	routes, err := awstest.Template(t).Routes()
	if err != nil {
		t.Fatal(err)
	}
	scopes := templateScopes(t)
	byFunction := map[string][]string{}
	inTemplate := map[string]bool{}
	for _, r := range routes {
		if r.Path == samtemplate.DefaultPath {
			continue
		}
		byFunction[r.Function] = append(byFunction[r.Function], r.Key())
		inTemplate[r.Key()] = true
		got, ok := ops[r.Key()]
		switch {
		case !ok:
			t.Errorf("template.yaml routes %s to %s, but %s has no such operation", r.Key(), r.Function, openapi.File)
		case !slices.Equal(got, scopes[r.Key()]):
			t.Errorf("%s: %s asks for the scopes %v, the template's authorizer for %v", openapi.File, r.Key(), got, scopes[r.Key()])
		}
	}
	for key := range ops {
		if !inTemplate[key] {
			t.Errorf("%s has the operation %s, which no route of template.yaml serves", openapi.File, key)
		}
	}

	query := queryapi.Routes()
	for _, v := range views.All {
		if v.Routes == nil {
			continue
		}
		for _, r := range v.Routes(queryapi.ReadOnlyDynamoDB{}, "") {
			query = append(query, "GET "+r.Path)
		}
	}
	for fn, served := range map[string][]string{"CommandFunction": commandapi.Routes(), "QueryFunction": query} {
		sort.Strings(served)
		sort.Strings(byFunction[fn])
		if !slices.Equal(served, byFunction[fn]) {
			t.Errorf("%s's handler serves %v, template.yaml routes %v to it", fn, served, byFunction[fn])
		}
		for _, key := range served {
			if _, ok := ops[key]; !ok {
				t.Errorf("%s's handler serves %s, which %s lacks", fn, key, openapi.File)
			}
		}
	}
	if len(ops) < 11 {
		t.Errorf("%d operations: the document lost routes", len(ops))
	}
}

// templateScopes reads the scopes each HttpApi route of the template asks
// of the authorizer.
func templateScopes(t *testing.T) map[string][]string {
	t.Helper()
	type event struct {
		Method, Path string
		Auth         struct{ AuthorizationScopes []string }
	}
	out := map[string][]string{}
	for _, fn := range []string{"CommandFunction", "QueryFunction"} {
		p := awstest.TemplateFunction[event](t, fn)
		for _, e := range p.Events {
			if e.Type == "HttpApi" && e.Properties.Path != samtemplate.DefaultPath {
				out[e.Properties.Method+" "+e.Properties.Path] = e.Properties.Auth.AuthorizationScopes
			}
		}
	}
	return out
}

// documentedProblems reads docs/errors.md's table: each problem type with
// its status.
func documentedProblems(t *testing.T) map[string]int64 {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(awstest.ProjectRoot(t), "docs", "errors.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| (\\d{3}) \\|").FindAllStringSubmatch(string(src), -1) {
		out[m[1]], _ = strconv.ParseInt(m[2], 10, 64)
	}
	if len(out) < 20 {
		t.Fatalf("docs/errors.md lists %d problem types: the table moved?", len(out))
	}
	return out
}

// The Problem schema names exactly docs/errors.md's problem types, and
// each status's response names exactly that status's types (but for
// route-not-found and method-not-allowed, which no operation answers:
// the $default route does).
func TestTheDocumentListsEveryProblemType(t *testing.T) {
	doc := document(t)
	documented := documentedProblems(t)
	var names []string
	for _, typ := range list(t, doc, "components", "schemas", "Problem", "properties", "type", "enum") {
		name, ok := strings.CutPrefix(typ, httpapi.ProblemTypePrefix)
		if !ok {
			t.Errorf("problem type %q does not start with %s", typ, httpapi.ProblemTypePrefix)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	want := make([]string, 0, len(documented))
	for name := range documented {
		want = append(want, name)
	}
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Errorf("the Problem schema's types %v, docs/errors.md's %v", names, want)
	}

	byStatus := map[int64][]string{}
	for name, status := range documented {
		if name != httpapi.KindRouteNotFound && name != httpapi.KindMethodNotAllowed {
			byStatus[status] = append(byStatus[status], name)
		}
	}
	answered := map[int64][]string{}
	for name, resp := range at(t, doc, "components", "responses").(map[string]any) {
		problem, ok := at(t, resp, "content").(map[string]any)["application/problem+json"]
		if !ok {
			continue
		}
		rule := at(t, problem, "schema", "allOf", "1", "properties")
		status := integer(t, rule, "status", "const")
		var types []string
		switch typ := at(t, rule, "type").(map[string]any); {
		case typ["const"] != nil:
			types = []string{str(t, typ, "const")}
		default:
			types = list(t, typ, "enum")
		}
		for _, typ := range types {
			kind := strings.TrimPrefix(typ, httpapi.ProblemTypePrefix)
			if documented[kind] != status {
				t.Errorf("the response %s answers %s with %d, docs/errors.md says %d", name, kind, status, documented[kind])
			}
			answered[status] = append(answered[status], kind)
		}
	}
	for status, kinds := range byStatus {
		sort.Strings(kinds)
		sort.Strings(answered[status])
		if !slices.Equal(kinds, answered[status]) {
			t.Errorf("the responses of status %d name %v, docs/errors.md %v", status, answered[status], kinds)
		}
	}
}

// Each header of the contract is declared where it is sent or answered.
func TestTheDocumentDeclaresEveryHeader(t *testing.T) {
	doc := document(t)
	requestHeaders := map[string]bool{}
	for _, p := range at(t, doc, "components", "parameters").(map[string]any) {
		if str(t, p, "in") == "header" {
			requestHeaders[str(t, p, "name")] = true
		}
	}
	for _, item := range at(t, doc, "paths").(map[string]any) {
		for _, op := range item.(map[string]any) {
			params, _ := op.(map[string]any)["parameters"].([]any)
			for _, p := range params {
				if m := p.(map[string]any); m["in"] == "header" {
					requestHeaders[str(t, m, "name")] = true
				}
			}
		}
	}
	for _, h := range []string{"Idempotency-Key", "If-Match", "If-None-Match", httpapi.CorrelationHeader} {
		if !requestHeaders[h] {
			t.Errorf("%s declares no request header %s", openapi.File, h)
		}
	}

	responseHeaders := map[string]bool{}
	collect := func(resp any) {
		headers, _ := resp.(map[string]any)["headers"].(map[string]any)
		for name := range headers {
			responseHeaders[name] = true
		}
	}
	for _, r := range at(t, doc, "components", "responses").(map[string]any) {
		collect(r)
	}
	for _, item := range at(t, doc, "paths").(map[string]any) {
		for _, op := range item.(map[string]any) {
			if rs, ok := op.(map[string]any)["responses"].(map[string]any); ok {
				for _, r := range rs {
					collect(r)
				}
			}
		}
	}
	for _, h := range []string{"ETag", queryapi.SourceHeader, "Retry-After", "Idempotent-Replayed", "Location", "Cache-Control", httpapi.CorrelationHeader} {
		if !responseHeaders[h] {
			t.Errorf("%s declares no response header %s", openapi.File, h)
		}
	}
}

// A new account's currency is one of the ledger's: the document lists
// exactly the codes account.Currency.Valid takes.
func TestTheCurrenciesAreTheLedgers(t *testing.T) {
	doc := document(t)
	listed := list(t, doc, "components", "schemas", "OpenAccount", "properties", "currency", "enum")
	var valid []string
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			for c := 'A'; c <= 'Z'; c++ {
				if code := string([]rune{a, b, c}); account.Currency(code).Valid() {
					valid = append(valid, code)
				}
			}
		}
	}
	sort.Strings(listed)
	if !slices.Equal(listed, valid) {
		t.Errorf("%s lists %d currencies, the ledger takes %d: %v", openapi.File, len(listed), len(valid), valid)
	}
}

// The bounds the document states are the code's.
func TestTheBoundsAreTheCodes(t *testing.T) {
	doc := document(t)
	schemas := at(t, doc, "components", "schemas")
	for _, c := range []struct {
		what      string
		got, want int64
	}{
		{"the largest amount", integer(t, schemas, "Amount", "maximum"), account.MaxAmount},
		{"the smallest amount", integer(t, schemas, "Amount", "minimum"), 1},
		{"the largest overdraft limit", integer(t, schemas, "OpenAccount", "properties", "overdraftLimit", "maximum"), account.MaxAmount},
		{"the largest balance", integer(t, schemas, "Balance", "maximum"), account.MaxBalance},
		{"the smallest balance", integer(t, schemas, "Balance", "minimum"), -account.MaxBalance},
		{"the largest page", integer(t, doc, "components", "parameters", "Limit", "schema", "maximum"), queryapi.MaxLimit},
		{"the default page", integer(t, doc, "components", "parameters", "Limit", "schema", "default"), queryapi.DefaultLimit},
		{"the longest statement", integer(t, schemas, "Statement", "properties", "days", "maxItems"), views.MaxStatementRange},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s is %d, the code's %d", openapi.File, c.what, c.got, c.want)
		}
	}
	// Text is at most 200 bytes; maxLength counts characters, so it can
	// only be the bound for ASCII.
	max := integer(t, schemas, "Text", "maxLength")
	if account.TextProblem(strings.Repeat("a", int(max)), true) != "" || account.TextProblem(strings.Repeat("a", int(max)+1), true) == "" {
		t.Errorf("%s: text is at most %d characters, the ledger's bound is another", openapi.File, max)
	}
}

// pattern compiles one of the document's patterns as Go reads it (the
// document writes none that Go, ECMA-262 and Python read differently).
func pattern(t *testing.T, v any, tokens ...string) *regexp.Regexp {
	t.Helper()
	re, err := regexp.Compile(str(t, v, tokens...))
	if err != nil {
		t.Fatalf("%s: /%s: %v", openapi.File, strings.Join(tokens, "/"), err)
	}
	return re
}

// The text pattern takes exactly the characters the ledger takes in free
// text, every one of Unicode's.
func TestTheTextPatternIsTheLedgers(t *testing.T) {
	re := pattern(t, document(t), "components", "schemas", "Text", "pattern")
	refused := 0
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue // no UTF-8 text holds a surrogate
		}
		s := "a" + string(r) + "b"
		ok := account.TextProblem(s, true) == ""
		if re.MatchString(s) != ok {
			t.Errorf("U+%04X: the ledger takes it %v, the pattern %v", r, ok, !ok)
		}
		if !ok {
			refused++
		}
	}
	if refused < 70 {
		t.Errorf("only %d characters refused: the test checks little", refused)
	}
}

// The patterns of the Idempotency-Key and the echoed correlation id take
// what the handlers take.
func TestTheHeaderPatternsAreTheHandlers(t *testing.T) {
	doc := document(t)
	key := pattern(t, doc, "components", "parameters", "IdempotencyKey", "schema", "pattern")
	corr := pattern(t, doc, "components", "headers", "CorrelationId", "schema", "pattern")
	values := []string{"", "a", "key-1", "a b", "é", "\x7f", "!~", strings.Repeat("k", 128), strings.Repeat("k", 129),
		strings.Repeat("k", 255), strings.Repeat("k", 256), "a.b:c_d-e", "a/b", "a\tb"}
	for _, v := range values {
		if key.MatchString(v) != httpapi.ValidKey(v) {
			t.Errorf("Idempotency-Key %q: the handler takes it %v, the pattern %v", v, httpapi.ValidKey(v), !httpapi.ValidKey(v))
		}
		echoed := httpapitest.Request{Headers: map[string]string{httpapi.CorrelationHeader: v}}.Event()
		kept := httpapi.CorrelationID(&echoed, func() string { return "new" }) == v
		if corr.MatchString(v) != kept {
			t.Errorf("X-Correlation-Id %q: echoed %v, the pattern %v", v, kept, !kept)
		}
	}
}

// The If-Match pattern takes exactly what the command handler reads: a
// value it refuses names If-Match in a 400.
func TestTheIfMatchPatternIsTheHandlers(t *testing.T) {
	re := pattern(t, document(t), "components", "parameters", "IfMatch", "schema", "pattern")
	h := commandapi.New(commandapi.Config{
		Vault: personal.NewVault(personal.NewMemoryKeys()),
		Store: eventstore.New(eventstore.NewMemoryBackend()),
		Auth:  httpapi.Auth{LocalTenant: "t", LocalActor: "a"},
		NewID: func() string { return "id" }, Log: slog.New(slog.DiscardHandler),
	})
	for _, v := range []string{`"1"`, `"0"`, `"12"`, ` "1" `, `W/"1"`, `"1", "2"`, `"1",W/"2"`, `"1", , "2"`, `, "1"`, `"1",`, `*`, ` * `,
		`"01"`, `"-1"`, `1`, `"1" "2"`, `W/1`, `w/"1"`, `*, "1"`, `"a"`, `""`, `"1`, `,`, `**`, `"1";"2"`, `"1"x`} {
		ev := httpapitest.Request{Method: "POST", Path: "/accounts/acc-1/deposits", Body: `{"amount":1}`,
			Headers: map[string]string{"If-Match": v, "Content-Type": "application/json"}, NoAuth: true}.Event()
		resp, err := h.Handle(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		refused := resp.StatusCode == 400 && strings.Contains(resp.Body, `"field":"If-Match"`)
		if re.MatchString(v) == refused {
			t.Errorf("If-Match %q: the handler answers %d %s, the pattern takes it %v", v, resp.StatusCode, resp.Body, !refused)
		}
	}
}

// The document is written in YAML and served as JSON, members in order,
// every character outside printable ASCII escaped.
func TestJSON(t *testing.T) {
	src := "b: 1\na: [x, 'y', 1_000, 0x10, -2, 1.5, true, null, 2026-03-01]\nc: &c {d: \"\\u202e\\x00\\U0001F600\"}\ne: *c\n"
	got, err := openapi.JSON([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, got); err != nil {
		t.Fatal(err)
	}
	want := `{"b":1,"a":["x","y",1000,16,-2,1.5,true,null,"2026-03-01"],"c":{"d":"\u202e\u0000\ud83d\ude00"},"e":{"d":"\u202e\u0000\ud83d\ude00"}}`
	if compact.String() != want {
		t.Errorf("JSON = %s, want %s", compact.String(), want)
	}
	for _, bad := range []string{"a: .inf\n", "a: !!set {x}\n", "[1]\n---\n[2]\n", "{[1]: x}\n"} {
		if out, err := openapi.JSON([]byte(bad)); err == nil {
			t.Errorf("JSON(%q) = %s, want an error", bad, out)
		}
	}
}

// The document the local stack serves is the file in the project.
func TestLoad(t *testing.T) {
	got, err := openapi.Load(".")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(awstest.ProjectRoot(t), openapi.File))
	if err != nil {
		t.Fatal(err)
	}
	want, err := openapi.JSON(src)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || !json.Valid(got) {
		t.Error("Load does not return the project's document as JSON")
	}
	if _, err := openapi.Load(t.TempDir()); err == nil {
		t.Error("Load found a document outside any project")
	}
}
