package commandapi_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/httpapi"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
)

// expectField checks a validation problem that names field.
func expectField(t *testing.T, resp events.APIGatewayV2HTTPResponse, field string) {
	t.Helper()
	b := expect(t, resp, 400, httpapi.KindValidation)
	errs, _ := b["errors"].([]any)
	for _, e := range errs {
		if m, _ := e.(map[string]any); m["field"] == field {
			return
		}
	}
	t.Errorf("errors %v do not name %q", b["errors"], field)
}

// Every command route reads its body as sent: a member name given twice
// (encoding/json would keep the last), twice in another case (it matches
// names case-insensitively), at any depth, or a field's name in another
// case, is refused naming the member, and nothing is recorded.
func TestMemberNamesAreExact(t *testing.T) {
	f := newFixture(t)
	a, b := f.open(t, 0), f.open(t, 0)
	dep, wd, cl := "/accounts/"+a+"/deposits", "/accounts/"+a+"/withdrawals", "/accounts/"+b+"/close"
	xfer := func(rest string) string {
		return fmt.Sprintf(`{"fromAccountId":%q,"toAccountId":%q,"amount":1%s}`, a, b, rest)
	}
	cases := []struct{ name, path, body, field string }{
		{"open: a name twice", "/accounts", `{"owner":"a","currency":"EUR","owner":"b"}`, "owner"},
		{"open: a name twice in another case", "/accounts", `{"owner":"a","currency":"EUR","Currency":"USD"}`, "Currency"},
		{"open: a field in another case", "/accounts", `{"Owner":"a","currency":"EUR"}`, "Owner"},
		{"open: an optional field in another case", "/accounts", `{"owner":"a","currency":"EUR","overdraftlimit":5}`, "overdraftlimit"},
		{"deposit: a name twice", dep, `{"amount":1,"amount":500}`, "amount"},
		{"deposit: a name twice in another case", dep, `{"amount":1,"Amount":500}`, "Amount"},
		{"deposit: a field in another case", dep, `{"Amount":5}`, "Amount"},
		{"deposit: a name twice by Unicode case folding", dep, `{"amount":1,"kind":1,"\u212aind":2}`, "\u212aind"},
		{"deposit: a name twice in a nested object", dep, `{"amount":1,"meta":{"k":1,"K":2}}`, "meta.K"},
		{"deposit: a name twice in an array", dep, `{"amount":1,"meta":[{"k":1},{"k":1,"k":2}]}`, "meta[1].k"},
		{"withdrawal: a name twice in another case", wd, `{"amount":1,"AMOUNT":500}`, "AMOUNT"},
		{"withdrawal: a field in another case", wd, `{"amount":1,"Reference":"x"}`, "Reference"},
		{"close: a name twice in another case", cl, `{"x":1,"X":2}`, "X"},
		{"transfer: a name twice", "/transfers", xfer(fmt.Sprintf(`,"fromAccountId":%q`, b)), "fromAccountId"},
		{"transfer: a name twice in another case", "/transfers", xfer(fmt.Sprintf(`,"toAccountID":%q`, a)), "toAccountID"},
		{"transfer: a field in another case", "/transfers", fmt.Sprintf(`{"FromAccountId":%q,"toAccountId":%q,"amount":1}`, a, b), "FromAccountId"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectField(t, f.do(t, req{path: tc.path, body: tc.body}), tc.field)
		})
	}
	// Nothing was recorded: each account is still at its opening.
	for _, acc := range []string{a, b} {
		if v := f.version(t, acc); v != 1 {
			t.Errorf("account %s at version %d, want 1", acc, v)
		}
	}
}

// textClasses are the characters no text field may hold, each as a JSON
// string's content: text encoding/json would turn into U+FFFD (invalid
// UTF-8, unpaired surrogate escapes), bidirectional formatting and
// zero-width characters (raw and escaped), and control characters.
var textClasses = func() map[string]string {
	c := map[string]string{
		"invalid UTF-8 byte":             "\xff",
		"overlong UTF-8":                 "\xc0\xaf",
		"UTF-8 encoded surrogate":        "\xed\xa0\x80",
		"truncated UTF-8":                "\xe2\x80",
		"lone high surrogate":            `\ud800`,
		"lone low surrogate":             `\udc00`,
		"high surrogate before a letter": `\ud800\u0041`,
		"high surrogate at the end":      `\udbff`,
		"NUL (escaped)":                  `\u0000`,
		"unit separator (escaped)":       `\u001f`,
		"DEL":                            "\x7f",
		"C1 control NEL":                 "\u0085",
	}
	for _, r := range []rune{0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c,
		0x200b, 0x200c, 0x200d, 0x2060, 0xfeff} {
		c[fmt.Sprintf("U+%04X", r)] = string(r)
		c[fmt.Sprintf("U+%04X escaped", r)] = fmt.Sprintf(`\u%04x`, r)
	}
	return c
}()

// Every text field refuses every class, naming the field; the body's other
// fields are valid, so the class alone is what is refused.
func TestTextRules(t *testing.T) {
	f := newFixture(t)
	a, b := f.open(t, 0), f.open(t, 0)
	f.deposit(t, a, 100)
	fields := []struct {
		name, path, field string
		body              func(text string) string // text is a JSON string's content
	}{
		{"owner", "/accounts", "owner", func(s string) string { return `{"owner":"ab` + s + `cd","currency":"EUR"}` }},
		{"currency", "/accounts", "currency", func(s string) string { return `{"owner":"a","currency":"EU` + s + `"}` }},
		{"deposit reference", "/accounts/" + a + "/deposits", "reference", func(s string) string { return `{"amount":1,"reference":"ab` + s + `cd"}` }},
		{"withdrawal reference", "/accounts/" + a + "/withdrawals", "reference", func(s string) string { return `{"amount":1,"reference":"` + s + `"}` }},
		{"transfer reference", "/transfers", "reference", func(s string) string {
			return fmt.Sprintf(`{"fromAccountId":%q,"toAccountId":%q,"amount":1,"reference":"x%sy"}`, a, b, s)
		}},
		{"transfer source", "/transfers", "fromAccountId", func(s string) string {
			return fmt.Sprintf(`{"fromAccountId":"%s%s","toAccountId":%q,"amount":1}`, a, s, b)
		}},
		{"transfer destination", "/transfers", "toAccountId", func(s string) string {
			return fmt.Sprintf(`{"fromAccountId":%q,"toAccountId":"%s%s","amount":1}`, a, s, b)
		}},
	}
	for _, fl := range fields {
		for class, text := range textClasses {
			t.Run(fl.name+"/"+class, func(t *testing.T) {
				expectField(t, f.do(t, req{path: fl.path, body: fl.body(text)}), fl.field)
			})
		}
		// As API Gateway sends a body that is not UTF-8: in base64.
		t.Run(fl.name+"/invalid UTF-8 in base64", func(t *testing.T) {
			ev := req{path: fl.path, body: "{}"}.event()
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(fl.body("\xfe"))), true
			expectField(t, f.do(t, reqFromEvent(ev)), fl.field)
		})
	}
	if v := f.version(t, a); v != 2 {
		t.Errorf("account at version %d after the refusals, want 2", v)
	}
}

// Text that only looks unusual is taken as sent: accents, a character
// outside the Basic Multilingual Plane raw and as a surrogate pair, an
// escaped backslash before a "u".
func TestTextIsRecordedAsSent(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, 0)
	resp := f.do(t, req{path: "/accounts/" + a + "/deposits", body: `{"amount":1,"reference":"Café 😀 \ud83d\ude00 \\u00e9 \u00e9"}`})
	expect(t, resp, 200, "")
	ev := f.lastEvent(t, a)
	if want := `"reference":"Café 😀 😀 \\u00e9 é"`; !strings.Contains(string(ev.Data), want) {
		t.Errorf("recorded %s, want %s", ev.Data, want)
	}
}

// lastEvent is the newest event of an account of tenant t1, opened as the
// audit trail shows it.
func (f *fixture) lastEvent(t *testing.T, id string) eventstore.Event {
	t.Helper()
	e, err := app.Opened(t.Context(), f.vault, f.storedLastEvent(t, id))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// storedLastEvent is the newest event of an account of tenant t1 as it
// is stored.
func (f *fixture) storedLastEvent(t *testing.T, id string) eventstore.Event {
	t.Helper()
	stream, err := app.AccountStream("t1", id)
	if err != nil {
		t.Fatal(err)
	}
	page, err := f.store.Read(t.Context(), stream, 1, 100)
	if err != nil || len(page.Events) == 0 {
		t.Fatalf("read %s: %v", id, err)
	}
	return page.Events[len(page.Events)-1]
}

// A balance stays where a client reading JSON numbers as doubles reads it
// exactly: a deposit may take it to 2^53-1, and one more unit is a 422
// balance-limit that changes nothing.
func TestBalanceLimit(t *testing.T) {
	f := newFixture(t)
	id := f.open(t, 0)
	for range 9 {
		expect(t, f.deposit(t, id, account.MaxAmount), 200, "")
	}
	resp := f.deposit(t, id, 9_007_199_254_740_991-9*account.MaxAmount)
	expect(t, resp, 200, "")
	if !strings.Contains(resp.Body, `"balance":9007199254740991,`) && !strings.HasSuffix(resp.Body, `"balance":9007199254740991}`) {
		t.Fatalf("answer %s, want the balance 9007199254740991", resp.Body)
	}
	b := expect(t, f.deposit(t, id, 1), 422, account.ErrBalanceLimit.Kind)
	if b["type"] != httpapi.ProblemTypePrefix+"balance-limit" {
		t.Errorf("problem type %v", b["type"])
	}
	expect(t, f.do(t, req{path: "/accounts/" + id + "/withdrawals", body: `{"amount":1}`}), 200, "")
	if b := expect(t, f.deposit(t, id, 1), 200, ""); num(b, "balance") != 9_007_199_254_740_991 || num(b, "version") != 13 {
		t.Errorf("after a withdrawal, a deposit back to the limit: %v", b)
	}
}

// A retry under an Idempotency-Key is the same request whatever its
// headers: one with another If-Match gets the first outcome replayed, and
// is not judged by its own If-Match (one that does not parse is refused,
// as any malformed request is).
func TestKeyedRetryIgnoresItsHeaders(t *testing.T) {
	f := newFixture(t)
	id := f.open(t, 0)
	dep := func(ifMatch string) events.APIGatewayV2HTTPResponse {
		return f.do(t, req{path: "/accounts/" + id + "/deposits", body: `{"amount":5}`,
			headers: map[string]string{"Idempotency-Key": "k-1", "If-Match": ifMatch}})
	}
	first := dep(`"1"`)
	expect(t, first, 200, "")
	for _, ifMatch := range []string{`"7"`, `W/"1"`, `*`} {
		again := dep(ifMatch)
		expect(t, again, 200, "")
		if again.Body != first.Body || again.Headers["Idempotent-Replayed"] != "true" {
			t.Errorf("If-Match %s: %s %v, want the first answer %s replayed", ifMatch, again.Body, again.Headers, first.Body)
		}
	}
	// Headers are checked before the key is looked up.
	expect(t, dep(`3`), 400, httpapi.KindValidation)
	if v := f.version(t, id); v != 2 {
		t.Errorf("account at version %d, want 2: the deposit applied once", v)
	}
}
