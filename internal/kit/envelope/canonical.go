package envelope

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// readCanonical reads a batch written the way Encode writes it: a JSON
// array of objects holding only the envelope's keys, with no blank
// between tokens, strings without escapes and integers without fraction
// or exponent. It reports false for anything else, which Decode then
// leaves to encoding/json: what it accepts it reads exactly as
// encoding/json would (FuzzCanonical holds it to that), so it only saves
// the reflection and the second pass over the bytes.
func readCanonical(data []byte) ([]cloudEvent, bool) {
	r := canonical{b: data}
	if !r.skip('[') {
		return nil, false
	}
	batch := make([]cloudEvent, 0, 1)
	for {
		ce, ok := r.event()
		if !ok {
			return nil, false
		}
		batch = append(batch, ce)
		if r.skip(']') {
			return batch, r.i == len(r.b)
		}
		if !r.skip(',') {
			return nil, false
		}
	}
}

// canonical reads b from i on. What it returns shares nothing with b, as
// what encoding/json returns.
type canonical struct {
	b []byte
	i int
}

// skip consumes c if it comes next.
func (r *canonical) skip(c byte) bool {
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

// event reads one object of the batch. A key given twice keeps its last
// value, as encoding/json keeps it.
func (r *canonical) event() (cloudEvent, bool) {
	var ce cloudEvent
	if !r.skip('{') {
		return ce, false
	}
	for first := true; !r.skip('}'); first = false {
		if !first && !r.skip(',') {
			return ce, false
		}
		key, ok := r.str()
		if !ok || !r.skip(':') || !r.field(&ce, key) {
			return ce, false
		}
	}
	return ce, true
}

// field reads the value of key into ce; an unknown key is not canonical.
func (r *canonical) field(ce *cloudEvent, key []byte) bool {
	var ok bool
	switch string(key) {
	case "data":
		ce.Data, ok = r.raw()
	case "streamversion":
		ce.StreamVersion, ok = r.int()
	case "schemaversion":
		var n int64
		n, ok = r.int()
		ce.SchemaVersion = int(n)
		ok = ok && int64(ce.SchemaVersion) == n
	default:
		field := stringField(ce, key)
		if field == nil {
			return false
		}
		var v []byte
		v, ok = r.str()
		*field = string(v)
	}
	return ok
}

// stringField is the string field of ce that key names, if any.
func stringField(ce *cloudEvent, key []byte) *string {
	switch string(key) {
	case "specversion":
		return &ce.SpecVersion
	case "id":
		return &ce.ID
	case "source":
		return &ce.Source
	case "type":
		return &ce.Type
	case "subject":
		return &ce.Subject
	case "time":
		return &ce.Time
	case "datacontenttype":
		return &ce.DataContentType
	case "occurredat":
		return &ce.OccurredAt
	case "commitid":
		return &ce.CommitID
	case "commandid":
		return &ce.CommandID
	case "correlationid":
		return &ce.CorrelationID
	case "causationid":
		return &ce.CausationID
	case "actor":
		return &ce.Actor
	case "tenant":
		return &ce.Tenant
	case "xraytraceid":
		return &ce.XRayTraceID
	}
	return nil
}

// str reads a string with no escape, no control character and valid
// UTF-8, and returns its bytes, which are then its value.
func (r *canonical) str() ([]byte, bool) {
	if !r.skip('"') {
		return nil, false
	}
	n := bytes.IndexByte(r.b[r.i:], '"')
	if n < 0 {
		return nil, false
	}
	v := r.b[r.i : r.i+n]
	for _, c := range v {
		if c < ' ' || c == '\\' {
			return nil, false
		}
	}
	if !utf8.Valid(v) {
		return nil, false
	}
	r.i += n + 1
	return v, true
}

// int reads an integer as JSON writes it: digits, no leading zero.
func (r *canonical) int() (int64, bool) {
	end := r.i
	if end < len(r.b) && r.b[end] == '-' {
		end++
	}
	digits := end
	for end < len(r.b) && '0' <= r.b[end] && r.b[end] <= '9' {
		end++
	}
	if end == digits || end-digits > 1 && r.b[digits] == '0' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(r.b[r.i:end]), 10, 64)
	if err != nil {
		return 0, false
	}
	r.i = end
	return n, true
}

// raw reads one JSON value, without blanks around it, as encoding/json
// keeps it in a json.RawMessage: a copy of its bytes.
func (r *canonical) raw() (json.RawMessage, bool) {
	end := valueEnd(r.b, r.i)
	if end <= r.i || isBlank(r.b[r.i]) || isBlank(r.b[end-1]) {
		return nil, false
	}
	v := r.b[r.i:end]
	if !json.Valid(v) {
		return nil, false
	}
	r.i = end
	return bytes.Clone(v), true
}

// valueEnd is where the value at s[i:] ends if it is valid JSON: at the
// first comma or closing bracket outside it and its strings. json.Valid
// then checks what lies between.
func valueEnd(s []byte, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
