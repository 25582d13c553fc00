package queryapi

import (
	"encoding/base64"
	"net/url"
	"testing"
)

// A cursor comes back as it went out, and only to its own list.
func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []struct {
		r     route
		scope string
		cur   cursor
	}{
		{routeOwnerAccounts, "Zoë & Co", cursor{Tenant: "t1", Route: routeOwnerAccounts.String(), Scope: "Zoë & Co", After: "acc-9"}},
		{routeTransactions, "acc-1", cursor{Tenant: "t1", Route: routeTransactions.String(), Scope: "acc-1", Version: 12}},
		{routeEvents, "acc-1", cursor{Tenant: "t1", Route: routeEvents.String(), Scope: "acc-1", Version: 3}},
	} {
		s := encodeCursor(c.cur)
		got, p := decodeCursor(s, "t1", c.r, c.scope)
		if p != nil {
			t.Errorf("%+v: %v", c.cur, p)
			continue
		}
		c.cur.Format = cursorFormat
		if got != c.cur {
			t.Errorf("round trip %+v, want %+v", got, c.cur)
		}
		for _, other := range []struct {
			tenant string
			r      route
			scope  string
		}{{"t2", c.r, c.scope}, {"t1", routeAccount, c.scope}, {"t1", c.r, c.scope + "x"}} {
			if _, p := decodeCursor(s, other.tenant, other.r, other.scope); p == nil || p.Status != 400 {
				t.Errorf("%+v accepted for %+v", c.cur, other)
			}
		}
	}
}

// Decoding takes any string: it never panics, and what it accepts
// re-encodes to a cursor that decodes the same.
func FuzzCursor(f *testing.F) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, s := range []string{
		encodeCursor(cursor{Tenant: "t1", Route: routeEvents.String(), Scope: "acc-1", Version: 3}),
		encodeCursor(cursor{Tenant: "t1", Route: routeOwnerAccounts.String(), Scope: "alice", After: "acc-1"}),
		enc(`{"f":1,"t":"t1","r":"GET /accounts/{id}/events","s":"acc-1","v":-1}`),
		enc(`{"f":1,"t":"t1","r":"GET /accounts/{id}/events","s":"acc-1","v":1}{}`),
		enc(`{"f":2}`), enc(`null`), enc(`[]`), "", "====", "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCursor(s)
		if err != nil {
			return
		}
		again, err := parseCursor(encodeCursor(c))
		if err != nil || again != c {
			t.Fatalf("%q decoded to %+v, which re-encodes to %+v (%v)", s, c, again, err)
		}
		for _, r := range []route{routeOwnerAccounts, routeTransactions, routeEvents} {
			if d, p := decodeCursor(s, c.Tenant, r, c.Scope); p == nil && (d.Route != r.String() || (r == routeOwnerAccounts) != (d.After != "")) {
				t.Fatalf("%q accepted for %v as %+v", s, r, d)
			}
		}
	})
}

// Every parameter combination either decodes or names its bad fields.
func FuzzParams(f *testing.F) {
	for _, q := range []string{"version=1", "at=2026-03-01T09:00:00 01:00", "minVersion=2&version=1", "owner=a&limit=100",
		"limit=0", "fromVersion=5", "cursor=&x=1", "a;b", "%"} {
		f.Add(uint8(0), q)
		f.Add(uint8(1), q)
		f.Add(uint8(3), q)
	}
	f.Fuzz(func(t *testing.T, which uint8, q string) {
		r := route(int(which)%4 + 1)
		vals, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		p, prob := checkParams(r, vals)
		if prob != nil {
			if prob.Status != 400 || len(prob.Errors) == 0 {
				t.Fatalf("%v %q: %+v", r, q, prob)
			}
			return
		}
		if p.limit < 1 || p.limit > MaxLimit || p.fromVersion < 1 || p.version < 0 || p.minVersion < 0 {
			t.Fatalf("%v %q accepted as %+v", r, q, p)
		}
		set := 0
		for _, b := range []bool{p.version > 0, p.hasAt, p.minVersion > 0} {
			if b {
				set++
			}
		}
		if set > 1 || r == routeOwnerAccounts && p.owner == "" {
			t.Fatalf("%v %q accepted as %+v", r, q, p)
		}
	})
}
