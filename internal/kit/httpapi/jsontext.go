package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// checkMembers reads a JSON body for what encoding/json accepts without a
// word, so that the request is refused instead of read otherwise than it
// was sent:
//
//   - a member name given twice in one object, or twice in different case
//     (any two names equal under Unicode case folding): encoding/json
//     matches names case-insensitively and keeps the last;
//   - a member whose name differs only in case from a field of the
//     request (fields are named exactly; encoding/json would take it);
//   - a string, name or value, that is not valid UTF-8 or holds an
//     unpaired surrogate escape ("\ud800"): encoding/json turns both into
//     U+FFFD, so what is recorded would not be what was sent.
//
// It looks at every depth and returns one problem per member, named by its
// path (payee.name, tags[1]); err is a syntax error, which decoding the
// body reports as such.
func checkMembers(body []byte, fields schema) (problems []FieldError, err error) {
	w := walker{dec: json.NewDecoder(bytes.NewReader(body)), body: body}
	switch err := w.value(fields); {
	case errors.Is(err, errTooDeep):
		// Decoding refuses it as it stands.
		return nil, nil
	case errors.Is(err, io.EOF):
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	return w.problems, nil
}

// maxDepth is encoding/json's own bound on nesting; a body nested deeper
// does not decode.
const maxDepth = 10000

var errTooDeep = errors.New("nested too deep")

type walker struct {
	dec  *json.Decoder
	body []byte
	// path names the value being read, a part per level ("payee",
	// ".name", "[1]"), joined only to name a problem.
	path     []string
	problems []FieldError
}

func (w *walker) add(message string) {
	w.problems = append(w.problems, FieldError{Field: strings.Join(w.path, ""), Message: message})
}

// value reads one value; known lists the fields of an object there.
func (w *walker) value(known schema) error {
	if len(w.path) > maxDepth {
		return errTooDeep
	}
	start := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '{' {
			return w.object(known)
		}
		return w.array(known)
	case string:
		if m := rawTextProblem(w.raw(start)); m != "" {
			w.add(m)
		}
	}
	return nil
}

func (w *walker) object(known schema) error {
	seen := map[string]bool{}
	for w.dec.More() {
		start := w.dec.InputOffset()
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		part := name
		if len(w.path) > 0 {
			part = "." + name
		}
		w.path = append(w.path, part)
		key := foldKey(name)
		field, isField := known[key]
		switch text := rawTextProblem(w.raw(start)); {
		case seen[key]:
			w.add("is given more than once (member names must differ in more than case)")
		case text != "":
			w.add("has a name that " + text)
		case isField && field.name != name:
			w.add("is not a field of this request: names are case-sensitive, send " + strconv.Quote(field.name))
		}
		seen[key] = true
		if err := w.value(field.fields); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
	}
	_, err := w.dec.Token() // the closing brace
	return err
}

// array reads an array's elements; known lists the fields of each.
func (w *walker) array(known schema) error {
	for i := 0; w.dec.More(); i++ {
		w.path = append(w.path, "["+strconv.Itoa(i)+"]")
		if err := w.value(known); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
	}
	_, err := w.dec.Token() // the closing bracket
	return err
}

// raw is the text of the string token that the decoder has just read,
// between its quotes. Only white space, commas and colons come between
// start and its opening quote.
func (w *walker) raw(start int64) []byte {
	s := w.body[start:w.dec.InputOffset()]
	return s[bytes.IndexByte(s, '"')+1 : len(s)-1]
}

// rawTextProblem says what is wrong with the text of a JSON string as sent
// (its escapes unread), or "". The decoder has checked its syntax, so every
// backslash starts a whole escape.
func rawTextProblem(s []byte) string {
	if !utf8.Valid(s) {
		return "must be valid UTF-8"
	}
	const unpaired = `must not hold an unpaired surrogate escape (\ud800 to \udfff)`
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		i++
		if s[i] != 'u' {
			continue
		}
		r := hex4(s[i+1 : i+5])
		i += 4
		switch {
		case r < 0xd800 || r > 0xdfff:
		case r >= 0xdc00:
			return unpaired
		case i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u':
			if low := hex4(s[i+3 : i+7]); low < 0xdc00 || low > 0xdfff {
				return unpaired
			}
			i += 6
		default:
			return unpaired
		}
	}
	return ""
}

func hex4(s []byte) rune {
	n, _ := strconv.ParseUint(string(s), 16, 16)
	return rune(n)
}

// foldKey is the same for two names exactly when strings.EqualFold holds
// for them (it is how encoding/json matches names to fields): each rune is
// replaced by the least rune of its case-folding orbit.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// schema lists the JSON fields of a struct by their fold keys, with the
// fields of the objects they hold in turn.
type schema map[string]schemaField

type schemaField struct {
	name   string
	fields schema
}

// schemaOf lists the fields encoding/json would decode into a value of t:
// exported fields named by their json tags, and those of embedded structs.
// A type that is not a struct (or a pointer, slice or array of one) has
// none.
func schemaOf(t reflect.Type) schema {
	if t == nil {
		return nil
	}
	if s, ok := schemas.Load(t); ok {
		return s.(schema)
	}
	s := schema{}
	addFields(s, t, 0)
	if len(s) == 0 {
		s = nil
	}
	schemas.Store(t, s)
	return s
}

// schemas keeps each type's schema: a request's type is one of a few.
var schemas sync.Map // reflect.Type -> schema

// maxSchemaDepth stops a struct that holds itself.
const maxSchemaDepth = 8

func addFields(s schema, t reflect.Type, depth int) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	// json.RawMessage, a slice of bytes, ends here too.
	if t.Kind() != reflect.Struct || depth > maxSchemaDepth {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
			continue
		case f.Anonymous && name == "":
			addFields(s, f.Type, depth+1)
			continue
		case !f.IsExported():
			continue
		case name == "":
			name = f.Name
		}
		sub := schema{}
		addFields(sub, f.Type, depth+1)
		if len(sub) == 0 {
			sub = nil
		}
		s[foldKey(name)] = schemaField{name: name, fields: sub}
	}
}
