package queryapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"

	"annals/internal/kit/httpapi"
)

// cursorFormat versions the encoding: a cursor of another format is
// refused rather than misread.
const cursorFormat = 1

// maxCursor bounds what is decoded at all.
const maxCursor = 1024

// cursor says where the next page of a list starts, and which list it
// belongs to. It travels as unpadded base64url JSON, which clients must
// treat as opaque. It carries no secret and needs none: every read is
// keyed by the caller's own tenant, never by the cursor's, so a forged
// cursor can only move within the caller's own data; checking its tenant,
// route and scope turns a cursor sent to the wrong list into a clear 400
// instead of a confusing page.
type cursor struct {
	Format int    `json:"f"`
	Tenant string `json:"t"`
	Route  string `json:"r"`
	// Scope is the account id (account routes) or the owner (owner list).
	Scope string `json:"s"`
	// After is the last account id returned (owner list).
	After string `json:"a,omitempty"`
	// Version is the version to go on from: the next page's first
	// (audit trail) or the last returned (history, which goes backwards).
	Version int64 `json:"v,omitempty"`
}

func encodeCursor(c cursor) string {
	c.Format = cursorFormat
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadCursor = errors.New("bad cursor")

// parseCursor decodes a cursor without judging whose it is.
func parseCursor(s string) (cursor, error) {
	if len(s) > maxCursor {
		return cursor{}, errBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, errBadCursor
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c cursor
	if err := dec.Decode(&c); err != nil {
		return cursor{}, errBadCursor
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return cursor{}, errBadCursor
	}
	if c.Format != cursorFormat || c.Tenant == "" || c.Route == "" || c.Scope == "" {
		return cursor{}, errBadCursor
	}
	return c, nil
}

// decodeCursor decodes a cursor for this tenant, route and scope.
func decodeCursor(s, tenant string, r route, scope string) (cursor, *httpapi.Problem) {
	c, err := parseCursor(s)
	if err != nil {
		return cursor{}, httpapi.NewProblem(httpapi.KindBadCursor, "the cursor does not decode; send back a nextCursor as it was given")
	}
	if c.Tenant != tenant || c.Route != r.String() || c.Scope != scope {
		return cursor{}, httpapi.NewProblem(httpapi.KindBadCursor, "the cursor belongs to another list")
	}
	valid := false
	switch r {
	case routeOwnerAccounts:
		valid = c.After != "" && c.Version == 0
	case routeTransactions, routeEvents:
		valid = c.After == "" && c.Version > 0
	}
	if !valid {
		return cursor{}, httpapi.NewProblem(httpapi.KindBadCursor, "the cursor does not decode; send back a nextCursor as it was given")
	}
	return c, nil
}
