package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"reflect"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// MaxBody is the largest request body accepted.
const MaxBody = 64 << 10

// Header returns a request header. API Gateway HTTP APIs pass header names
// in lower case; anything else is matched case-insensitively too.
func Header(req *events.APIGatewayV2HTTPRequest, name string) string {
	if v, ok := req.Headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Body returns the request body, decoded from base64 when API Gateway
// encoded it, refusing bodies over MaxBody.
func Body(req *events.APIGatewayV2HTTPRequest) ([]byte, *Problem) {
	// A base64 body is 4/3 of the bytes it holds: check before decoding.
	if len(req.Body) > MaxBody*4/3+4 {
		return nil, NewProblem(KindPayloadTooLarge, fmt.Sprintf("the body may be at most %d bytes", MaxBody))
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return nil, NewProblem(KindMalformedJSON, "the body is marked base64 but does not decode")
		}
	}
	if len(body) > MaxBody {
		return nil, NewProblem(KindPayloadTooLarge, fmt.Sprintf("the body may be at most %d bytes", MaxBody))
	}
	return body, nil
}

// RequireJSON checks that a request with a body declares it as JSON.
func RequireJSON(req *events.APIGatewayV2HTTPRequest) *Problem {
	ct := Header(req, "Content-Type")
	if ct == "" {
		return NewProblem(KindUnsupportedMediaType, "send Content-Type: application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !(mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return NewProblem(KindUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not application/json", ct))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return NewProblem(KindUnsupportedMediaType, fmt.Sprintf("charset %q is not utf-8", cs))
	}
	return nil
}

// DecodeJSON decodes one JSON object into v, strictly and as sent: syntax
// errors and trailing data are problems that name the offset; unknown
// fields, wrong types, member names given twice or in another case than
// the field's, and text that is not valid UTF-8 or holds an unpaired
// surrogate escape are validation problems that name the member (see
// checkMembers).
func DecodeJSON(body []byte, v any) *Problem {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return NewProblem(KindMalformedJSON, "the body is empty; send a JSON object")
	}
	if trimmed[0] != '{' {
		return NewProblem(KindMalformedJSON, "the body must be a JSON object")
	}
	fields, err := checkMembers(trimmed, schemaOf(reflect.TypeOf(v)))
	switch {
	case err != nil:
		return decodeProblem(err)
	case len(fields) > 0:
		return Invalid(fields...)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return NewProblem(KindMalformedJSON, "unexpected data after the JSON object")
	}
	return nil
}

func decodeProblem(err error) *Problem {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return NewProblem(KindMalformedJSON, fmt.Sprintf("syntax error at byte %d", syn.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return NewProblem(KindMalformedJSON, "the JSON ends too early")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return Invalid(FieldError{Field: field, Message: fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(FieldError{Field: name, Message: "is not a field of this request"})
	}
	return NewProblem(KindMalformedJSON, "the body does not decode")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int64", "int", "int32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "struct", "map":
		return "an object"
	case "slice":
		return "an array"
	}
	return "of another type"
}

// Int64 reads a field that must be a JSON number holding a whole number in
// int64's range: not a string, not a fraction, not an exponent. An absent or
// null field reads as 0 with ok false.
func Int64(field string, raw json.RawMessage, fields *[]FieldError) (n int64, ok bool) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, false
	}
	if s[0] == '"' {
		*fields = append(*fields, FieldError{Field: field, Message: "must be a number, not a string"})
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		*fields = append(*fields, FieldError{Field: field, Message: "must be a whole number of minor units within range"})
		return 0, false
	}
	return v, true
}
