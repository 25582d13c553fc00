package localsources

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFilterMatch(t *testing.T) {
	const commit = `{"eventName": "INSERT", "dynamodb": {"NewImage": {"kind": {"S": "commit"}, "sk": {"N": "3"}}}}`
	const guard = `{"eventName": "INSERT", "dynamodb": {"NewImage": {"kind": {"S": "guard"}}}}`
	const modify = `{"eventName": "MODIFY", "dynamodb": {"NewImage": {"kind": {"S": "commit"}}}}`
	const template = `{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["commit"]}}}}`
	const data = `{"partitionKey": "acme/account/1", "data": {"type": "Deposited", "amount": 250, "tags": ["a", "vip"], "note": null, "flag": true}}`

	for _, c := range []struct {
		name, pattern, record string
		want                  bool
	}{
		{"template commit insert", template, commit, true},
		{"template guard", template, guard, false},
		{"template modify", template, modify, false},
		{"template no image", template, `{"eventName": "REMOVE", "dynamodb": {"Keys": {}}}`, false},
		{"one of several values", `{"eventName": ["MODIFY", "INSERT"]}`, commit, true},
		{"value of other type", `{"dynamodb": {"NewImage": {"sk": {"N": [3]}}}}`, commit, false},
		{"number", `{"data": {"amount": [250]}}`, data, true},
		{"number as string", `{"data": {"amount": ["250"]}}`, data, false},
		{"boolean", `{"data": {"flag": [true]}}`, data, true},
		{"null", `{"data": {"note": [null]}}`, data, true},
		{"null is not missing", `{"data": {"gone": [null]}}`, data, false},
		{"array element", `{"data": {"tags": ["vip"]}}`, data, true},
		{"array no element", `{"data": {"tags": ["gold"]}}`, data, false},
		{"object expected, value found", `{"data": {"type": {"x": ["y"]}}}`, data, false},
		{"prefix", `{"partitionKey": [{"prefix": "acme/"}]}`, data, true},
		{"prefix miss", `{"partitionKey": [{"prefix": "other/"}]}`, data, false},
		{"prefix on number", `{"data": {"amount": [{"prefix": "2"}]}}`, data, false},
		{"suffix", `{"partitionKey": [{"suffix": "/1"}]}`, data, true},
		{"equals-ignore-case", `{"data": {"type": [{"equals-ignore-case": "DEPOSITED"}]}}`, data, true},
		{"exists", `{"data": {"type": [{"exists": true}]}}`, data, true},
		{"exists missing", `{"data": {"kind": [{"exists": true}]}}`, data, false},
		{"not exists", `{"data": {"kind": [{"exists": false}]}}`, data, true},
		{"not exists present", `{"data": {"type": [{"exists": false}]}}`, data, false},
		{"not exists under missing object", `{"meta": {"x": [{"exists": false}]}}`, data, true},
		{"missing object", `{"meta": {"x": ["y"]}}`, data, false},
		{"anything-but value", `{"data": {"type": [{"anything-but": "Withdrawn"}]}}`, data, true},
		{"anything-but same", `{"data": {"type": [{"anything-but": "Deposited"}]}}`, data, false},
		{"anything-but list", `{"data": {"type": [{"anything-but": ["Withdrawn", "Deposited"]}]}}`, data, false},
		{"anything-but number", `{"data": {"amount": [{"anything-but": 250}]}}`, data, false},
		{"anything-but prefix", `{"data": {"type": [{"anything-but": {"prefix": "With"}}]}}`, data, true},
		{"anything-but prefix hit", `{"data": {"type": [{"anything-but": {"prefix": "Dep"}}]}}`, data, false},
		{"anything-but missing", `{"data": {"kind": [{"anything-but": "x"}]}}`, data, false},
		{"numeric range", `{"data": {"amount": [{"numeric": [">", 0, "<=", 250]}]}}`, data, true},
		{"numeric above", `{"data": {"amount": [{"numeric": [">", 250]}]}}`, data, false},
		{"numeric equal", `{"data": {"amount": [{"numeric": ["=", 250]}]}}`, data, true},
		{"numeric >=", `{"data": {"amount": [{"numeric": [">=", 251]}]}}`, data, false},
		{"numeric on string", `{"data": {"type": [{"numeric": [">", 0]}]}}`, data, false},
		{"alternatives mixed", `{"data": {"amount": [{"numeric": ["<", 0]}, 250]}}`, data, true},
		{"every field must match", `{"partitionKey": [{"prefix": "acme"}], "data": {"type": ["Withdrawn"]}}`, data, false},
		{"record not an object", `{"data": ["x"]}`, `"plain text"`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := CompileFilter(c.pattern)
			if err != nil {
				t.Fatal(err)
			}
			var rec any
			if err := json.Unmarshal([]byte(c.record), &rec); err != nil {
				t.Fatal(err)
			}
			if got := f.Match(rec); got != c.want {
				t.Errorf("Match(%s) on %s = %v, want %v", c.pattern, c.record, got, c.want)
			}
		})
	}
}

func TestFilterCompileErrors(t *testing.T) {
	for _, c := range []struct{ pattern, wantErr string }{
		{`not json`, "invalid"},
		{`["INSERT"]`, "not a JSON object"},
		{`{}`, "empty object"},
		{`{"a": "x"}`, "want an array"},
		{`{"a": []}`, "empty array"},
		{`{"a": [["x"]]}`, "nested arrays"},
		{`{"a": [{"prefix": 1}]}`, "prefix takes a string"},
		{`{"a": [{"exists": "yes"}]}`, "exists takes"},
		{`{"a": [{"numeric": [">"]}]}`, "numeric takes"},
		{`{"a": [{"numeric": ["!=", 1]}]}`, "numeric operator"},
		{`{"a": [{"anything-but": {"suffix": "x"}}]}`, "anything-but takes"},
		{`{"a": [{"wildcard": "x*"}]}`, "unsupported operator"},
		{`{"a": [{"prefix": "x", "suffix": "y"}]}`, "exactly one key"},
		{`{"a": ["x"]} {}`, "trailing"},
	} {
		_, err := CompileFilter(c.pattern)
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("CompileFilter(%s) = %v, want an error mentioning %q", c.pattern, err, c.wantErr)
		}
	}
}

func TestMatchAny(t *testing.T) {
	a, _ := CompileFilter(`{"k": ["a"]}`)
	b, _ := CompileFilter(`{"k": ["b"]}`)
	rec := map[string]any{"k": "b"}
	if !matchAny(nil, rec) {
		t.Error("no filters dropped a record")
	}
	if !matchAny([]*Filter{a, b}, rec) {
		t.Error("a record matching the second filter was dropped")
	}
	if matchAny([]*Filter{a}, rec) {
		t.Error("a record matching no filter was kept")
	}
}
