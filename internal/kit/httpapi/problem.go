// Package httpapi owns what an application's HTTP API has in common across
// its functions: RFC 9457 problem responses with a stable type per error, the one
// mapping from errors to them, request decoding with its limits, the caller's
// identity from API Gateway's JWT claims, and correlation ids.
package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
)

// ProblemTypePrefix starts every problem type URI. Types are stable: clients
// branch on them, never on titles or details.
const ProblemTypePrefix = "urn:annals:problem:"

// Problem kinds, each with its one status and title.
const (
	KindValidation           = "validation"
	KindMalformedJSON        = "malformed-json"
	KindBadCursor            = "bad-cursor"
	KindBadHeader            = "bad-header"
	KindNotFound             = "not-found"
	KindVersionNotFound      = "version-not-found"
	KindRouteNotFound        = "route-not-found"
	KindMethodNotAllowed     = "method-not-allowed"
	KindConflict             = "conflict"
	KindPreconditionFailed   = "precondition-failed"
	KindIdempotencyReused    = "idempotency-key-reused"
	KindIdempotencyInFlight  = "idempotency-in-flight"
	KindPayloadTooLarge      = "payload-too-large"
	KindUnsupportedMediaType = "unsupported-media-type"
	KindUnauthorized         = "unauthorized"
	KindForbidden            = "forbidden"
	KindThrottled            = "throttled"
	KindUnavailable          = "unavailable"
	KindOutcomeUnknown       = "outcome-unknown"
	KindSchemaAhead          = "schema-ahead"
	KindInternal             = "internal"
)

var catalogue = map[string]struct {
	status int
	title  string
}{
	KindValidation:           {http.StatusBadRequest, "The request has invalid fields"},
	KindMalformedJSON:        {http.StatusBadRequest, "The request body is not valid JSON"},
	KindBadCursor:            {http.StatusBadRequest, "The cursor is not valid for this request"},
	KindBadHeader:            {http.StatusBadRequest, "A request header is not valid"},
	KindNotFound:             {http.StatusNotFound, "No such resource"},
	KindVersionNotFound:      {http.StatusNotFound, "No such version"},
	KindRouteNotFound:        {http.StatusNotFound, "No such route"},
	KindMethodNotAllowed:     {http.StatusMethodNotAllowed, "Method not allowed on this route"},
	KindConflict:             {http.StatusConflict, "Concurrent changes kept winning; try again"},
	KindPreconditionFailed:   {http.StatusPreconditionFailed, "The resource does not match If-Match"},
	KindIdempotencyReused:    {http.StatusUnprocessableEntity, "The Idempotency-Key was used for another request"},
	KindIdempotencyInFlight:  {http.StatusConflict, "A request with this Idempotency-Key is still in progress"},
	KindPayloadTooLarge:      {http.StatusRequestEntityTooLarge, "The request body is too large"},
	KindUnsupportedMediaType: {http.StatusUnsupportedMediaType, "The request body must be application/json"},
	KindUnauthorized:         {http.StatusUnauthorized, "Authentication required"},
	KindForbidden:            {http.StatusForbidden, "Not allowed"},
	KindThrottled:            {http.StatusServiceUnavailable, "The store is at capacity; retry later"},
	KindUnavailable:          {http.StatusServiceUnavailable, "The store is unavailable; retry later"},
	KindOutcomeUnknown:       {http.StatusServiceUnavailable, "The outcome is unknown; retry with the same Idempotency-Key"},
	KindSchemaAhead:          {http.StatusServiceUnavailable, "The data was written by a newer version of the service; retry later or contact the operator"},
	KindInternal:             {http.StatusInternalServerError, "Internal error"},
}

// FieldError is one invalid field, named as in the request's JSON (or as the
// query parameter or header).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem detail. It is also an error, so handlers
// can return it through their own layers.
type Problem struct {
	Kind   string       `json:"-"`
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
	// CorrelationID lets a user quote the request when asking for help.
	CorrelationID string `json:"correlationId,omitempty"`
	// RetryAfter, in seconds, becomes a Retry-After header when positive.
	RetryAfter int `json:"-"`
	// Allow lists the methods of a route, for 405.
	Allow string `json:"-"`
}

// NewProblem returns the problem of a kind with a detail for this case.
func NewProblem(kind, detail string) *Problem {
	c, ok := catalogue[kind]
	if !ok {
		c = catalogue[KindInternal]
		kind = KindInternal
	}
	return &Problem{Kind: kind, Type: ProblemTypePrefix + kind, Title: c.title, Status: c.status, Detail: detail}
}

// Invalid is a validation problem listing every bad field.
func Invalid(fields ...FieldError) *Problem {
	p := NewProblem(KindValidation, "")
	p.Errors = fields
	return p
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Kind + ": " + p.Detail
	}
	return p.Kind
}

// Response renders the problem as application/problem+json.
func (p *Problem) Response(correlationID string) events.APIGatewayV2HTTPResponse {
	p.CorrelationID = correlationID
	body, _ := json.Marshal(p)
	headers := map[string]string{"Content-Type": "application/problem+json"}
	if p.RetryAfter > 0 {
		headers["Retry-After"] = strconv.Itoa(p.RetryAfter)
	}
	if p.Allow != "" {
		headers["Allow"] = p.Allow
	}
	return respond(p.Status, headers, body, correlationID)
}

// JSON renders a successful response.
func JSON(status int, v any, headers map[string]string, correlationID string) events.APIGatewayV2HTTPResponse {
	body, err := json.Marshal(v)
	if err != nil {
		return NewProblem(KindInternal, "").Response(correlationID)
	}
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range headers {
		h[k] = v
	}
	return respond(status, h, body, correlationID)
}

func respond(status int, headers map[string]string, body []byte, correlationID string) events.APIGatewayV2HTTPResponse {
	if correlationID != "" {
		headers[CorrelationHeader] = correlationID
	}
	// Nothing is kept by a cache unless the route says it may be.
	if _, ok := headers["Cache-Control"]; !ok {
		headers["Cache-Control"] = "no-store"
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: headers, Body: string(body)}
}

// ETag formats a version as a strong entity tag.
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }
