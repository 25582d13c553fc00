package httpapi

import (
	"github.com/aws/aws-lambda-go/events"
)

// CorrelationHeader carries the id that ties a request to its events and
// logs. It is echoed on every response.
const CorrelationHeader = "X-Correlation-Id"

// CorrelationID returns the request's correlation id if it is a sensible
// one (1 to 128 characters of letters, digits and ._:-), or a new one.
func CorrelationID(req *events.APIGatewayV2HTTPRequest, newID func() string) string {
	if v := Header(req, CorrelationHeader); validToken(v, 128) {
		return v
	}
	return newID()
}

func validToken(v string, max int) bool {
	if v == "" || len(v) > max {
		return false
	}
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == ':', r == '-':
		default:
			return false
		}
	}
	return true
}

// ValidKey reports whether an Idempotency-Key is acceptable: 1 to 255
// printable ASCII characters.
func ValidKey(v string) bool {
	if v == "" || len(v) > 255 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return false
		}
	}
	return true
}
