package account

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// UnknownEventError is returned for an event type this package does not know,
// or a schema version other than the current one (older ones are lifted
// before they reach this package). It is told apart from ErrMalformedEvent because such an event is
// most likely valid for newer code rather than corrupt.
type UnknownEventError struct {
	Type          string
	SchemaVersion int
}

func (e *UnknownEventError) Error() string {
	return fmt.Sprintf("unknown event type %q at schema version %d", e.Type, e.SchemaVersion)
}

// ErrMalformedEvent is wrapped by DecodeEvent when a known event's data cannot
// be read: it is not a JSON object, a value has the wrong type, or a required
// field is missing.
var ErrMalformedEvent = errors.New("malformed event data")

// EncodeEvent returns what the event store records for e: its type name, the
// current schema version of that type and its JSON data.
func EncodeEvent(e Event) (typ string, schemaVersion int, data []byte, err error) {
	for _, c := range eventCodecs {
		if !c.is(e) {
			continue
		}
		data, err := json.Marshal(e)
		if err != nil {
			return "", 0, nil, fmt.Errorf("encode %s: %w", c.typ, err)
		}
		return c.typ, c.schemaVersion, data, nil
	}
	return "", 0, nil, &UnknownEventError{Type: fmt.Sprintf("%T", e)}
}

// DecodeEvent turns data at its type's current schema version back into
// an event; older versions are lifted first by the store's catalogue of
// event types (see Lifts), any other version is an *UnknownEventError.
//
// Unknown fields are ignored, so that code rolled back to an older version
// can still read events written by a newer one that only added fields.
// Fields without which an event would fold into a wrong state are required:
// an event is refused unless its data gives each of them a value other
// than null (as encoding/json reads keys: in any case, the last one
// given).
func DecodeEvent(typ string, schemaVersion int, data []byte) (Event, error) {
	return decode(typ, schemaVersion, data)
}

// Lifts are, per event type, the functions that bring each older schema
// version of its data to the next: Lifts[type][i] reads version i+1. The
// application declares them to the store's catalogue of event types
// (eventstore.Schemas), through which every reader sees events; this
// package decodes only the current versions. Keep every lift: stored bytes
// are never rewritten, so a version-1 event is lifted through each step.
var Lifts = map[string][]func(json.RawMessage) (json.RawMessage, error){
	TypeAccountOpened:  {liftOpenedV1},
	TypeMoneyDeposited: {liftMovementV1, Unsealed},
	TypeMoneyWithdrawn: {liftMovementV1, Unsealed},
}

// Unsealed lifts data from the version before its personal fields were
// sealed: they hold text in the clear, which reads as it is, so the
// bytes are the same.
func Unsealed(data json.RawMessage) (json.RawMessage, error) { return data, nil }

// liftOpenedV1 gives a version-1 opening the account's own id for a data
// subject, as an opening that names none has.
func liftOpenedV1(data json.RawMessage) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, errors.New("data is null")
	}
	id, ok := fields["accountId"]
	if !ok {
		return nil, errors.New("accountId is missing")
	}
	fields["dataSubject"] = id
	return json.Marshal(fields)
}

// liftMovementV1 gives a version-1 deposit or withdrawal the channel it
// was on as far as it says: a transfer's leg was a transfer, anything
// else is unknown. It had no counterparty.
func liftMovementV1(data json.RawMessage) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, errors.New("data is null")
	}
	channel := ChannelUnknown
	if raw, ok := fields["transferId"]; ok {
		var id string
		if err := json.Unmarshal(raw, &id); err != nil {
			return nil, fmt.Errorf("transferId: %w", err)
		}
		if id != "" {
			channel = ChannelTransfer
		}
	}
	fields["channel"], _ = json.Marshal(channel)
	delete(fields, "counterparty")
	return json.Marshal(fields)
}

type eventCodec struct {
	typ           string
	schemaVersion int
	is            func(Event) bool
	// decode refuses data that is null, or lacks a required field.
	decode func([]byte) (Event, error)
}

// codecFor is E's codec. required lists JSON fields that must be present
// and not null: decoding a missing balance as zero would silently corrupt
// the fold.
func codecFor[E Event](typ string, schemaVersion int, required ...string) eventCodec {
	return eventCodec{
		typ:           typ,
		schemaVersion: schemaVersion,
		is:            func(e Event) bool { _, ok := e.(E); return ok },
		decode:        decoderFor[E](required),
	}
}

// decoderFor returns E's decoding, in one pass: data goes into a struct
// like E whose required fields are pointers, so that a field missing or
// null (a nil pointer) is told from a zero one, and then into E.
func decoderFor[E Event](required []string) func([]byte) (Event, error) {
	t := reflect.TypeFor[E]()
	fields := make([]reflect.StructField, t.NumField())
	names := make([]string, t.NumField()) // a required field's JSON name
	for i := range fields {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); slices.Contains(required, name) {
			f.Type, names[i] = reflect.PointerTo(f.Type), name
		}
		fields[i] = f
	}
	for _, name := range required {
		if !slices.Contains(names, name) {
			panic(fmt.Sprintf("%s has no field %q to require", t, name))
		}
	}
	// A pointer to it, so that data null leaves it nil.
	shadow := reflect.PointerTo(reflect.StructOf(fields))
	return func(data []byte) (Event, error) {
		var e E
		p := reflect.New(shadow)
		if err := json.Unmarshal(data, p.Interface()); err != nil {
			// E's own decoding tells what is wrong in E's words.
			if plain := json.Unmarshal(data, &e); plain != nil {
				return nil, plain
			}
			return nil, err
		}
		if p.Elem().IsNil() {
			return nil, errors.New("data is null")
		}
		read, v := p.Elem().Elem(), reflect.ValueOf(&e).Elem()
		for i, name := range names {
			f := read.Field(i)
			if name != "" {
				if f.IsNil() {
					return nil, fmt.Errorf("missing field %q", name)
				}
				f = f.Elem()
			}
			v.Field(i).Set(f)
		}
		return e, nil
	}
}

var eventCodecs = []eventCodec{
	codecFor[AccountOpened](TypeAccountOpened, AccountOpenedSchemaVersion, "accountId", "dataSubject", "owner", "currency", "overdraftLimit"),
	codecFor[MoneyDeposited](TypeMoneyDeposited, MoneyDepositedSchemaVersion, "amount", "channel", "balanceAfter"),
	codecFor[MoneyWithdrawn](TypeMoneyWithdrawn, MoneyWithdrawnSchemaVersion, "amount", "channel", "balanceAfter"),
	codecFor[AccountClosed](TypeAccountClosed, AccountClosedSchemaVersion),
	codecFor[TransferOutBegun](TypeTransferOutBegun, TransferOutBegunSchemaVersion, "transferId", "amount"),
	codecFor[TransferOutEnded](TypeTransferOutEnded, TransferOutEndedSchemaVersion, "transferId"),
}

// codecs indexes eventCodecs by type.
var codecs = func() map[string]eventCodec {
	m := make(map[string]eventCodec, len(eventCodecs))
	for _, c := range eventCodecs {
		m[c.typ] = c
	}
	return m
}()

// SchemaVersions lists every event type with its current schema version.
func SchemaVersions() map[string]int {
	m := make(map[string]int, len(eventCodecs))
	for _, c := range eventCodecs {
		m[c.typ] = c.schemaVersion
	}
	return m
}

func decode(typ string, schemaVersion int, data []byte) (Event, error) {
	c, ok := codecs[typ]
	if !ok || schemaVersion != c.schemaVersion {
		return nil, &UnknownEventError{Type: typ, SchemaVersion: schemaVersion}
	}
	e, err := c.decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w: %w", typ, schemaVersion, ErrMalformedEvent, err)
	}
	return e, nil
}
