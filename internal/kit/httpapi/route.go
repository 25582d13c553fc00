package httpapi

import "strings"

// MatchPath matches a request path against a route's path as API Gateway
// writes it (/accounts/{id}/deposits): segment by segment, a literal
// segment equal, a segment in braces any non-empty one, which it returns
// by name. Slashes at either end of the path are ignored.
func MatchPath(pattern, path string) (vars map[string]string, ok bool) {
	want := strings.Split(strings.Trim(pattern, "/"), "/")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(want) != len(parts) {
		return nil, false
	}
	vars = map[string]string{}
	for i, seg := range want {
		switch {
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
			if parts[i] == "" {
				return nil, false
			}
			vars[seg[1:len(seg)-1]] = parts[i]
		case seg != parts[i]:
			return nil, false
		}
	}
	return vars, true
}
