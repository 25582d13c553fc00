package queryapi

import (
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/httpapi"
	"annals/internal/ledger/account"
)

// Page sizes of the list routes.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// params are a request's query parameters, checked.
type params struct {
	limit  int
	cursor string
	owner  string
	// The account view reads at most one of these.
	version    int64
	at         time.Time
	hasAt      bool // at was sent: its zero value is a time like any other
	minVersion int64
	// The audit trail starts here (1 when absent).
	fromVersion int64
}

// allowed lists each route's parameters. Any other is refused, so that a
// misspelt one (minversion, from) is an error rather than silently ignored.
var allowed = map[route][]string{
	routeAccount:       {"version", "at", "minVersion"},
	routeOwnerAccounts: {"owner", "limit", "cursor"},
	routeTransactions:  {"limit", "cursor"},
	routeEvents:        {"fromVersion", "limit", "cursor"},
	routeTransfer:      {},
}

// queryValues reads the query string. API Gateway passes it raw and also
// split into queryStringParameters (repeats joined by commas); the raw one
// is read when present, so a repeated parameter can be refused.
func queryValues(req *events.APIGatewayV2HTTPRequest) (url.Values, *httpapi.Problem) {
	if req.RawQueryString == "" {
		v := url.Values{}
		for k, s := range req.QueryStringParameters {
			v.Set(k, s)
		}
		return v, nil
	}
	v, err := url.ParseQuery(req.RawQueryString)
	if err != nil {
		return nil, httpapi.Invalid(httpapi.FieldError{Field: "(query)", Message: "the query string does not decode"})
	}
	return v, nil
}

// parseParams checks every parameter of the route at once and reports
// every bad one.
func parseParams(r route, req *events.APIGatewayV2HTTPRequest) (params, *httpapi.Problem) {
	values, p := queryValues(req)
	if p != nil {
		return params{}, p
	}
	return checkParams(r, values)
}

func checkParams(r route, values url.Values) (params, *httpapi.Problem) {
	out := params{limit: DefaultLimit, fromVersion: 1}
	get, fields := knownParams(values, allowed[r])
	bad := func(field, msg string) { fields = append(fields, httpapi.FieldError{Field: field, Message: msg}) }
	positive := func(name string) int64 {
		s, ok := get[name]
		if !ok {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			bad(name, "must be a whole number from 1")
			return 0
		}
		return n
	}
	if s, ok := get["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			bad("limit", "must be a whole number from 1 to "+strconv.Itoa(MaxLimit))
		} else {
			out.limit = n
		}
	}
	if s, ok := get["cursor"]; ok {
		if s == "" {
			bad("cursor", "is empty; leave it out for the first page")
		}
		out.cursor = s
	}
	switch r {
	case routeOwnerAccounts:
		// An owner the ledger would refuse has no accounts: say why, rather
		// than send DynamoDB a key it refuses (over 2 KB) or list nothing.
		out.owner = get["owner"]
		if m := account.TextProblem(out.owner, true); m != "" {
			bad("owner", m)
		}
	case routeEvents:
		if _, ok := get["fromVersion"]; ok {
			// With a cursor, the cursor says where the page starts: a
			// client may send the first page's parameters again.
			out.fromVersion = positive("fromVersion")
		}
	case routeAccount:
		out.version = positive("version")
		out.minVersion = positive("minVersion")
		if s, ok := get["at"]; ok {
			t, err := parseTime(s)
			if err != nil {
				bad("at", "must be an RFC 3339 time, e.g. 2026-03-01T09:00:00Z")
			}
			out.at, out.hasAt = t, true
		}
		if len(get) > 1 {
			bad("(query)", "version, at and minVersion are alternatives: send one at most")
		}
	}
	if len(fields) > 0 {
		return params{}, httpapi.Invalid(fields...)
	}
	return out, nil
}

// parseTime reads an RFC 3339 time. A '+' of a zone offset that was not
// percent-encoded reaches the function as a space; it is read as the '+'
// it was.
func parseTime(s string) (time.Time, error) {
	if i := strings.LastIndexByte(s, ' '); i > 0 && strings.Count(s, " ") == 1 {
		s = s[:i] + "+" + s[i+1:]
	}
	return time.Parse(time.RFC3339Nano, s)
}

// knownParams returns each parameter of values that the route takes
// (allowed), given once, and a field error for every other, by name.
func knownParams(values url.Values, allowed []string) (map[string]string, []httpapi.FieldError) {
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	get := map[string]string{}
	var fields []httpapi.FieldError
	for _, k := range names {
		switch {
		case !slices.Contains(allowed, k):
			fields = append(fields, httpapi.FieldError{Field: k, Message: "is not a parameter of this route (it takes " + strings.Join(allowed, ", ") + ")"})
		case len(values[k]) > 1:
			fields = append(fields, httpapi.FieldError{Field: k, Message: "is given more than once"})
		default:
			get[k] = values[k][0]
		}
	}
	return get, fields
}
