package commandapi

import (
	"strconv"
	"strings"

	"annals/internal/kit/httpapi"
	"annals/internal/ledger/app"
)

// parseIfMatch reads an If-Match header (RFC 9110, section 13.1.1): "*",
// any version of an existing account, or a list of entity tags, each a
// version as ETag writes it. If-Match compares strongly, so a weak tag
// (W/"3") is read but never matches: with no strong tag the list matches
// no version. A value that is neither is a validation problem.
func parseIfMatch(v string) (*app.IfMatch, *httpapi.Problem) {
	v = strings.Trim(v, " \t")
	if v == "*" {
		return &app.IfMatch{Any: true}, nil
	}
	m := &app.IfMatch{Versions: []int64{}}
	tags := 0
	for rest := v; ; {
		// Empty elements of a list are allowed ("3", , "4").
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			break
		}
		weak := strings.HasPrefix(rest, "W/")
		if weak {
			rest = rest[2:]
		}
		version, after, ok := versionTag(rest)
		if !ok {
			return nil, httpapi.Invalid(httpapi.FieldError{Field: "If-Match",
				Message: `must be * or a list of versions as entity tags, e.g. "3" or "3", "4"`})
		}
		if !weak {
			m.Versions = append(m.Versions, version)
		}
		tags++
		rest = strings.TrimLeft(after, " \t")
		if rest != "" && rest[0] != ',' {
			return nil, httpapi.Invalid(httpapi.FieldError{Field: "If-Match", Message: "must separate its entity tags with commas"})
		}
	}
	if tags == 0 {
		return nil, httpapi.Invalid(httpapi.FieldError{Field: "If-Match", Message: `must be * or a list of versions as entity tags, e.g. "3"`})
	}
	return m, nil
}

// versionTag reads an opaque tag at the start of s that holds a version
// written as ETag writes it (no sign, no leading zero), and what follows.
func versionTag(s string) (version int64, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return 0, s, false
	}
	end := strings.IndexByte(s[1:], '"')
	if end < 0 {
		return 0, s, false
	}
	tag := s[1 : 1+end]
	n, err := strconv.ParseInt(tag, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != tag {
		return 0, s, false
	}
	return n, s[2+end:], true
}
