package localsources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Filter is one compiled event filtering pattern (the EventBridge pattern
// syntax Lambda's FilterCriteria use). A pattern is a JSON object whose keys
// name fields of the record: an object value matches a nested object, an
// array value lists alternatives, any of which may match. An alternative is
// an exact value (string, number, boolean, null) or one of the operators
// prefix, suffix, equals-ignore-case, exists, anything-but and numeric.
// When the record's field is an array, an alternative matches if it matches
// any element.
type Filter struct {
	pattern map[string]any
}

// CompileFilter parses and checks a pattern.
func CompileFilter(pattern string) (*Filter, error) {
	v, err := decodeJSON([]byte(pattern))
	if err != nil {
		return nil, fmt.Errorf("filter pattern %s: %w", pattern, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("filter pattern %s: not a JSON object", pattern)
	}
	if err := checkObject(m, ""); err != nil {
		return nil, fmt.Errorf("filter pattern %s: %w", pattern, err)
	}
	return &Filter{pattern: m}, nil
}

// Match tells whether the record, in its JSON form (maps, slices, strings,
// float64, bool, nil), matches the pattern.
func (f *Filter) Match(record any) bool {
	return matchObject(f.pattern, record)
}

// matchAny reports whether the record matches any of the filters; with no
// filters every record matches.
func matchAny(filters []*Filter, record any) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if f.Match(record) {
			return true
		}
	}
	return false
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

func checkObject(m map[string]any, path string) error {
	if len(m) == 0 {
		return fmt.Errorf("%s: empty object", orRoot(path))
	}
	for k, v := range m {
		p := path + "." + k
		switch v := v.(type) {
		case map[string]any:
			if err := checkObject(v, p); err != nil {
				return err
			}
		case []any:
			if len(v) == 0 {
				return fmt.Errorf("%s: empty array matches nothing", p)
			}
			for _, alt := range v {
				if err := checkAlternative(alt, p); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("%s: want an array of values or an object, got %v", p, v)
		}
	}
	return nil
}

func orRoot(path string) string {
	if path == "" {
		return "pattern"
	}
	return path
}

func checkAlternative(alt any, path string) error {
	op, ok := alt.(map[string]any)
	if !ok {
		if _, nested := alt.([]any); nested {
			return fmt.Errorf("%s: nested arrays are not values", path)
		}
		return nil // an exact value
	}
	if len(op) != 1 {
		return fmt.Errorf("%s: an operator object has exactly one key, got %v", path, op)
	}
	for name, arg := range op {
		switch name {
		case "prefix", "suffix", "equals-ignore-case":
			if _, ok := arg.(string); !ok {
				return fmt.Errorf("%s: %s takes a string", path, name)
			}
		case "exists":
			if _, ok := arg.(bool); !ok {
				return fmt.Errorf("%s: exists takes true or false", path)
			}
		case "anything-but":
			switch a := arg.(type) {
			case string, float64:
			case []any:
				for _, x := range a {
					switch x.(type) {
					case string, float64:
					default:
						return fmt.Errorf("%s: anything-but lists strings or numbers", path)
					}
				}
			case map[string]any:
				p, ok := a["prefix"].(string)
				if len(a) != 1 || !ok || p == "" {
					return fmt.Errorf("%s: anything-but takes a value, a list or {\"prefix\": ...}", path)
				}
			default:
				return fmt.Errorf("%s: anything-but takes a value, a list or {\"prefix\": ...}", path)
			}
		case "numeric":
			if _, err := numericBounds(arg); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		default:
			return fmt.Errorf("%s: unsupported operator %q", path, name)
		}
	}
	return nil
}

type bound struct {
	op string
	n  float64
}

func numericBounds(arg any) ([]bound, error) {
	a, ok := arg.([]any)
	if !ok || len(a) == 0 || len(a)%2 != 0 || len(a) > 4 {
		return nil, fmt.Errorf("numeric takes [op, n] or [op, n, op, n]")
	}
	var out []bound
	for i := 0; i < len(a); i += 2 {
		op, ok := a[i].(string)
		n, isNum := a[i+1].(float64)
		if !ok || !isNum {
			return nil, fmt.Errorf("numeric takes operator strings and numbers, got %v", a)
		}
		switch op {
		case "=", "<", "<=", ">", ">=":
		default:
			return nil, fmt.Errorf("numeric operator %q: want =, <, <=, > or >=", op)
		}
		out = append(out, bound{op, n})
	}
	return out, nil
}

func matchObject(pattern map[string]any, v any) bool {
	obj, _ := v.(map[string]any)
	for k, p := range pattern {
		val, present := obj[k]
		switch p := p.(type) {
		case map[string]any:
			if present {
				if _, isObj := val.(map[string]any); !isObj {
					return false
				}
			}
			// A missing object matches only patterns made of
			// {"exists": false}, as an empty object would.
			if !matchObject(p, val) {
				return false
			}
		case []any:
			if !matchAlternatives(p, val, present) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func matchAlternatives(alts []any, val any, present bool) bool {
	for _, alt := range alts {
		if op, ok := alt.(map[string]any); ok {
			if matchOperator(op, val, present) {
				return true
			}
			continue
		}
		if present && anyElement(val, func(x any) bool { return equal(alt, x) }) {
			return true
		}
	}
	return false
}

// anyElement applies f to val, or to each element when val is an array.
func anyElement(val any, f func(any) bool) bool {
	if a, ok := val.([]any); ok {
		for _, x := range a {
			if f(x) {
				return true
			}
		}
		return false
	}
	return f(val)
}

func equal(want, got any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case string:
		g, ok := got.(string)
		return ok && g == w
	case float64:
		g, ok := got.(float64)
		return ok && g == w
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	}
	return false
}

func matchOperator(op map[string]any, val any, present bool) bool {
	for name, arg := range op {
		switch name {
		case "exists":
			return present == arg.(bool)
		case "prefix":
			return present && anyElement(val, func(x any) bool {
				s, ok := x.(string)
				return ok && strings.HasPrefix(s, arg.(string))
			})
		case "suffix":
			return present && anyElement(val, func(x any) bool {
				s, ok := x.(string)
				return ok && strings.HasSuffix(s, arg.(string))
			})
		case "equals-ignore-case":
			return present && anyElement(val, func(x any) bool {
				s, ok := x.(string)
				return ok && strings.EqualFold(s, arg.(string))
			})
		case "anything-but":
			return present && anyElement(val, func(x any) bool { return !anythingBut(arg, x) })
		case "numeric":
			bounds, _ := numericBounds(arg)
			return present && anyElement(val, func(x any) bool {
				n, ok := x.(float64)
				if !ok || math.IsNaN(n) {
					return false
				}
				for _, b := range bounds {
					if !compare(n, b) {
						return false
					}
				}
				return true
			})
		}
	}
	return false
}

// anythingBut reports whether x is one of what the anything-but excludes.
func anythingBut(arg, x any) bool {
	switch a := arg.(type) {
	case []any:
		for _, e := range a {
			if equal(e, x) {
				return true
			}
		}
		return false
	case map[string]any:
		s, ok := x.(string)
		return ok && strings.HasPrefix(s, a["prefix"].(string))
	}
	return equal(arg, x)
}

func compare(n float64, b bound) bool {
	switch b.op {
	case "=":
		return n == b.n
	case "<":
		return n < b.n
	case "<=":
		return n <= b.n
	case ">":
		return n > b.n
	case ">=":
		return n >= b.n
	}
	return false
}
