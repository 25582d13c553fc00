package storetest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/eventstore"
)

// ItemsJSON dumps every item of a memory table in DynamoDB's JSON (what
// the console and the CLI show: numbers as strings, binaries in base64),
// sorted by key: how golden tables are checked in.
func ItemsJSON(ctx context.Context, b *eventstore.MemoryBackend) ([]byte, error) {
	p, err := b.Scan(ctx, eventstore.Scan{})
	if err != nil {
		return nil, err
	}
	if p.Next != nil {
		return nil, fmt.Errorf("the table is more than one scan page")
	}
	items := make([]map[string]any, len(p.Items))
	for i, it := range p.Items {
		items[i] = itemJSON(it)
	}
	key := func(m map[string]any, k string) string { b, _ := json.Marshal(m[k]); return string(b) }
	slices.SortFunc(items, func(a, b map[string]any) int {
		return cmp.Or(cmp.Compare(key(a, "pk"), key(b, "pk")), cmp.Compare(key(a, "sk"), key(b, "sk")))
	})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(items); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// LoadItemsJSON puts the items ItemsJSON dumped into a new memory table.
func LoadItemsJSON(ctx context.Context, raw []byte) (*eventstore.MemoryBackend, error) {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	b := eventstore.NewMemoryBackend()
	for _, j := range items {
		it := make(eventstore.Item, len(j))
		for k, v := range j {
			var err error
			if it[k], err = valueFromJSON(v); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
		if err := b.Write(ctx, []eventstore.Write{{Item: it}}, ""); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func itemJSON(it eventstore.Item) map[string]any {
	out := make(map[string]any, len(it))
	for k, v := range it {
		out[k] = valueJSON(v)
	}
	return out
}

func valueJSON(v types.AttributeValue) any {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(v.Value)}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": true}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": itemJSON(v.Value)}
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = valueJSON(e)
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": v.Value}
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": v.Value}
	}
	panic(fmt.Sprintf("attribute of type %T", v))
}

func valueFromJSON(raw json.RawMessage) (types.AttributeValue, error) {
	var v map[string]json.RawMessage
	if err := json.Unmarshal(raw, &v); err != nil || len(v) != 1 {
		return nil, fmt.Errorf("not one typed value: %s", raw)
	}
	for typ, x := range v {
		switch typ {
		case "S", "N":
			var s string
			if err := json.Unmarshal(x, &s); err != nil {
				return nil, err
			}
			if typ == "N" {
				if _, err := strconv.ParseFloat(s, 64); err != nil {
					return nil, err
				}
				return &types.AttributeValueMemberN{Value: s}, nil
			}
			return &types.AttributeValueMemberS{Value: s}, nil
		case "B":
			var b []byte
			err := json.Unmarshal(x, &b)
			return &types.AttributeValueMemberB{Value: b}, err
		case "BOOL":
			var b bool
			err := json.Unmarshal(x, &b)
			return &types.AttributeValueMemberBOOL{Value: b}, err
		case "NULL":
			return &types.AttributeValueMemberNULL{Value: true}, nil
		case "M":
			var m map[string]json.RawMessage
			if err := json.Unmarshal(x, &m); err != nil {
				return nil, err
			}
			out := make(map[string]types.AttributeValue, len(m))
			for k, e := range m {
				var err error
				if out[k], err = valueFromJSON(e); err != nil {
					return nil, err
				}
			}
			return &types.AttributeValueMemberM{Value: out}, nil
		case "L":
			var l []json.RawMessage
			if err := json.Unmarshal(x, &l); err != nil {
				return nil, err
			}
			out := make([]types.AttributeValue, len(l))
			for i, e := range l {
				var err error
				if out[i], err = valueFromJSON(e); err != nil {
					return nil, err
				}
			}
			return &types.AttributeValueMemberL{Value: out}, nil
		case "SS":
			var ss []string
			err := json.Unmarshal(x, &ss)
			return &types.AttributeValueMemberSS{Value: ss}, err
		case "NS":
			var ns []string
			err := json.Unmarshal(x, &ns)
			return &types.AttributeValueMemberNS{Value: ns}, err
		}
		return nil, fmt.Errorf("attribute type %q", typ)
	}
	return nil, nil
}
