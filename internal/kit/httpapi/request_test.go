package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"annals/internal/kit/httpapi"
)

// A body shaped like a command's, with a nested object so that the rules
// can be seen to hold at any depth.
type testBody struct {
	Amount    json.RawMessage `json:"amount"`
	Reference string          `json:"reference"`
	Payee     *struct {
		Name string `json:"name"`
	} `json:"payee"`
	Tags []string `json:"tags"`
}

// What encoding/json lets through silently is refused, naming the member:
// a name given twice, in the same or another case (encoding/json matches
// names case-insensitively and keeps the last), a name that differs from a
// field only in case, and text it would turn into U+FFFD (invalid UTF-8, a
// lone surrogate escape).
func TestDecodeJSONTakesTheBodyAsSent(t *testing.T) {
	cases := []struct {
		name, body string
		field      string // "" for a body that decodes
		message    string // a part of the field's message
	}{
		{"plain", `{"amount":1,"reference":"rent"}`, "", ""},
		{"every member once", `{"amount":1,"reference":"r","payee":{"name":"Ada"},"tags":["a","b"]}`, "", ""},
		{"a surrogate pair", `{"amount":1,"reference":"\ud83d\ude00 \uD83D\uDE00"}`, "", ""},
		{"escaped text", `{"amount":1,"reference":"a\"b\\c\u00e9\/"}`, "", ""},
		{"the same name in two objects", `{"amount":1,"reference":"r","payee":{"name":"a"},"tags":[]}`, "", ""},
		{"one name in sibling objects of an unknown member", `{"amount":1,"x":[{"a":1},{"a":2}]}`, "x", "not a field"},

		{"a name twice", `{"amount":1,"amount":500}`, "amount", "more than once"},
		{"a name twice in another case", `{"amount":1,"Amount":500}`, "Amount", "more than once"},
		{"a name twice by Unicode case folding", `{"amount":1,"tags":[],"tag\u017f":[]}`, "tag\u017f", "more than once"},
		{"a name twice by the Kelvin sign", `{"amount":1,"reference":"a","kind":1,"\u212aind":2}`, "\u212aind", "more than once"},
		{"a name twice in a nested object", `{"amount":1,"payee":{"name":"a","NAME":"b"}}`, "payee.NAME", "more than once"},
		{"a name twice in an array's object", `{"amount":1,"x":[{"a":1},{"b":1,"B":2}]}`, "x[1].B", "more than once"},
		{"a field in another case", `{"Amount":5}`, "Amount", `"amount"`},
		{"a field by the long s", `{"amount":1,"tag\u017f":[]}`, "tag\u017f", `"tags"`},
		{"a nested field in another case", `{"amount":1,"payee":{"Name":"a"}}`, "payee.Name", `"name"`},
		{"a field spelt with an escape", `{"amount":1,"\u0052eference":"a"}`, "Reference", `"reference"`},

		{"invalid UTF-8 in a value", "{\"amount\":1,\"reference\":\"a\xffb\"}", "reference", "UTF-8"},
		{"a truncated UTF-8 sequence", "{\"amount\":1,\"reference\":\"\xe2\x80\"}", "reference", "UTF-8"},
		{"an overlong encoding", "{\"amount\":1,\"reference\":\"\xc0\xaf\"}", "reference", "UTF-8"},
		{"an encoded surrogate", "{\"amount\":1,\"reference\":\"\xed\xa0\x80\"}", "reference", "UTF-8"},
		{"invalid UTF-8 in a nested value", "{\"amount\":1,\"payee\":{\"name\":\"\xfe\"}}", "payee.name", "UTF-8"},
		{"invalid UTF-8 in an array", "{\"amount\":1,\"tags\":[\"ok\",\"\xfe\"]}", "tags[1]", "UTF-8"},
		{"invalid UTF-8 in a name", "{\"amount\":1,\"ref\xffx\":\"a\"}", "ref\ufffdx", "UTF-8"},
		{"a lone high surrogate", `{"amount":1,"reference":"\ud800"}`, "reference", "surrogate"},
		{"a lone low surrogate", `{"amount":1,"reference":"x\uDC00y"}`, "reference", "surrogate"},
		{"a high surrogate before a letter", `{"amount":1,"reference":"\ud800\u0041"}`, "reference", "surrogate"},
		{"two high surrogates", `{"amount":1,"reference":"\ud800\ud800\udc00"}`, "reference", "surrogate"},
		{"a high surrogate at the end", `{"amount":1,"reference":"a\ud83d"}`, "reference", "surrogate"},
		{"a surrogate escape after an escaped backslash", `{"amount":1,"reference":"\\\ud800"}`, "reference", "surrogate"},
		{"a lone surrogate in a name", `{"amount":1,"\ud800":"a"}`, "\ufffd", "surrogate"},
		{"a lone surrogate in a nested value", `{"amount":1,"payee":{"name":"\udfff"}}`, "payee.name", "surrogate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b testBody
			p := httpapi.DecodeJSON([]byte(tc.body), &b)
			if tc.field == "" {
				if p != nil {
					t.Fatalf("refused %s: %v %v", tc.body, p, p.Errors)
				}
				return
			}
			if p == nil {
				t.Fatalf("decoded %s into %+v, want it refused", tc.body, b)
			}
			if p.Kind != httpapi.KindValidation {
				t.Fatalf("problem %s (%s), want %s", p.Kind, p.Detail, httpapi.KindValidation)
			}
			for _, f := range p.Errors {
				if f.Field == tc.field && strings.Contains(f.Message, tc.message) {
					return
				}
			}
			t.Errorf("errors %+v, want %q with a message saying %q", p.Errors, tc.field, tc.message)
		})
	}
}

// A valid surrogate pair and the characters next to it reach the value as
// sent; the checks do not change what decodes.
func TestDecodeJSONKeepsValidText(t *testing.T) {
	var b testBody
	if p := httpapi.DecodeJSON([]byte(`{"amount":1,"reference":"\\u\ud83d\ude00é\u00e9"}`), &b); p != nil {
		t.Fatal(p)
	}
	if want := `\u😀éé`; b.Reference != want {
		t.Errorf("reference %q, want %q", b.Reference, want)
	}
}

// Every problem found is reported at once, as with the request's other
// fields.
func TestDecodeJSONReportsEveryMember(t *testing.T) {
	var b testBody
	p := httpapi.DecodeJSON([]byte(`{"amount":1,"Amount":2,"Reference":"a","tags":["\ud800"]}`), &b)
	if p == nil || p.Kind != httpapi.KindValidation {
		t.Fatalf("problem %v, want validation", p)
	}
	var got []string
	for _, f := range p.Errors {
		got = append(got, f.Field)
	}
	if strings.Join(got, ",") != "Amount,Reference,tags[0]" {
		t.Errorf("fields %v, want Amount, Reference and tags[0]", got)
	}
}

// Malformed JSON is still malformed JSON, whatever the checks see first.
func TestDecodeJSONMalformed(t *testing.T) {
	for _, body := range []string{`{"amount":`, `{"amount":1`, `{"amount":1,}`, `{"a":1,"a"}`, "{\"a\":\xff}", `{"amount":1} x`} {
		var b testBody
		if p := httpapi.DecodeJSON([]byte(body), &b); p == nil || p.Kind != httpapi.KindMalformedJSON {
			t.Errorf("%q: %v, want %s", body, p, httpapi.KindMalformedJSON)
		}
	}
}
