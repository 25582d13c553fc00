package viewtable

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/projection"
)

// SetPosition writes pos into item. Optional attributes are left out
// rather than stored empty.
func SetPosition(item map[string]types.AttributeValue, pos projection.Position) {
	item["version"] = N(pos.Version)
	if !pos.UpdatedAt.IsZero() {
		item["updatedAt"] = S(pos.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	if q := pos.Quarantine; q != nil {
		item["quarantined"] = &types.AttributeValueMemberBOOL{Value: true}
		item["quarantineReason"] = S(q.Reason)
		item["quarantinedAt"] = N(q.At)
	}
}

// S is a string attribute.
func S(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// N is a number attribute.
func N(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// Attrs reads the attributes of one item, keeping the first error: an
// absent attribute reads as the zero value, a malformed one as an error.
type Attrs struct {
	raw map[string]types.AttributeValue
	err error
}

// Read returns the reader of item.
func Read(item map[string]types.AttributeValue) *Attrs { return &Attrs{raw: item} }

// Err is the first attribute that did not parse.
func (a *Attrs) Err() error { return a.err }

// S reads a string.
func (a *Attrs) S(name string) string {
	v, _ := a.raw[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// N reads an integer.
func (a *Attrs) N(name string) int64 {
	v, ok := a.raw[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil && a.err == nil {
		a.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return n
}

// Bool reads a boolean.
func (a *Attrs) Bool(name string) bool {
	v, _ := a.raw[name].(*types.AttributeValueMemberBOOL)
	return v != nil && v.Value
}

// Time reads an RFC 3339 time, in UTC.
func (a *Attrs) Time(name string) time.Time {
	s := a.S(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && a.err == nil {
		a.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return t.UTC()
}

// Position reads what SetPosition wrote.
func (a *Attrs) Position() projection.Position {
	p := projection.Position{Version: a.N("version"), UpdatedAt: a.Time("updatedAt")}
	if a.Bool("quarantined") {
		p.Quarantine = &projection.Quarantine{Reason: a.S("quarantineReason"), At: a.N("quarantinedAt")}
	}
	return p
}
