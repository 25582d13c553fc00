package transfer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// SchemaVersion is the schema version of every transfer event: 2 when a
// Requested's reference came to be stored sealed (PersonalFields).
const SchemaVersion = 2

// PersonalFields are, per event type, the members of its data that hold
// personal data, stored sealed with the source account's data subject's
// key (see account.PersonalFields).
var PersonalFields = map[string][]string{TypeRequested: {"reference"}}

// Types lists every transfer event type.
var Types = []string{TypeRequested, TypeDebited, TypeCompleted, TypeFailed}

const currentSchema = SchemaVersion

// ErrMalformedEvent is wrapped when a transfer event's data cannot be read.
var ErrMalformedEvent = errors.New("malformed transfer event data")

// EncodeEvent returns what the event store records for e: its type name,
// its schema version and its JSON data.
func EncodeEvent(e Event) (typ string, schemaVersion int, data []byte, err error) {
	data, err = json.Marshal(e)
	if err != nil {
		return "", 0, nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
	}
	return e.EventType(), currentSchema, data, nil
}

// DecodeEvent turns stored data back into a transfer event. A type this
// package does not know decodes to nil, which Evolve ignores.
func DecodeEvent(typ string, schemaVersion int, data []byte) (Event, error) {
	if schemaVersion != currentSchema {
		return nil, fmt.Errorf("%s at schema version %d: %w", typ, schemaVersion, ErrMalformedEvent)
	}
	var (
		ev       Event
		err      error
		required []string
	)
	switch typ {
	case TypeRequested:
		required = []string{"transferId", "fromAccountId", "toAccountId", "amount", "currency"}
		ev, err = decodeAs[Requested](data, required)
	case TypeDebited:
		ev, err = decodeAs[Debited](data, nil)
	case TypeCompleted:
		ev, err = decodeAs[Completed](data, nil)
	case TypeFailed:
		ev, err = decodeAs[Failed](data, []string{"reason"})
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", typ, err)
	}
	return ev, nil
}

func decodeAs[E Event](data []byte, required []string) (Event, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformedEvent)
	}
	for _, f := range required {
		if v, ok := fields[f]; !ok || bytes.Equal(v, []byte("null")) {
			return nil, fmt.Errorf("%w: %s is missing", ErrMalformedEvent, f)
		}
	}
	var e E
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedEvent, err)
	}
	return e, nil
}
