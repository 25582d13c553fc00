package account

import (
	"encoding/json"
	"errors"
	"fmt"
)

// UnknownEventError is returned for an event type this package does not know,
// or a schema version it cannot read (newer than its own, or older with no
// upcaster). It is told apart from ErrMalformedEvent because such an event is
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

// DecodeEvent turns stored data back into an event, upcasting data written
// under an older schema version first.
//
// Unknown fields are ignored, so that code rolled back to an older version
// can still read events written by a newer one that only added fields.
// Fields without which an event would fold into a wrong state are required.
func DecodeEvent(typ string, schemaVersion int, data []byte) (Event, error) {
	return defaultRegistry.decode(typ, schemaVersion, data)
}

// upcaster turns one event's data from schema version v into version v+1.
type upcaster func(data []byte) ([]byte, error)

type upcastKey struct {
	typ           string
	schemaVersion int
}

// upcasters is keyed by (type, the schema version an upcaster reads). It is
// empty because every event is still at version 1. To change an event's
// shape: bump its SchemaVersion constant, change the struct, and add here
// {TypeX, oldVersion}: a function rewriting oldVersion JSON into the new
// shape (for example filling a new required field with its old implied
// value). Keep every old upcaster: stored bytes are never rewritten, so a
// version-1 event is upcast through each step up to the current version.
var upcasters = map[upcastKey]upcaster{}

type eventCodec struct {
	typ           string
	schemaVersion int
	// required lists JSON fields that must be present and not null: decoding
	// a missing balance as zero would silently corrupt the fold.
	required []string
	is       func(Event) bool
	decode   func([]byte) (Event, error)
}

func codecFor[E Event](typ string, schemaVersion int, required ...string) eventCodec {
	return eventCodec{
		typ:           typ,
		schemaVersion: schemaVersion,
		required:      required,
		is:            func(e Event) bool { _, ok := e.(E); return ok },
		decode: func(data []byte) (Event, error) {
			var e E
			err := json.Unmarshal(data, &e)
			return e, err
		},
	}
}

var eventCodecs = []eventCodec{
	codecFor[AccountOpened](TypeAccountOpened, AccountOpenedSchemaVersion, "accountId", "owner", "currency", "overdraftLimit"),
	codecFor[MoneyDeposited](TypeMoneyDeposited, MoneyDepositedSchemaVersion, "amount", "balanceAfter"),
	codecFor[MoneyWithdrawn](TypeMoneyWithdrawn, MoneyWithdrawnSchemaVersion, "amount", "balanceAfter"),
	codecFor[AccountClosed](TypeAccountClosed, AccountClosedSchemaVersion),
	codecFor[TransferOutBegun](TypeTransferOutBegun, TransferOutBegunSchemaVersion, "transferId", "amount"),
	codecFor[TransferOutEnded](TypeTransferOutEnded, TransferOutEndedSchemaVersion, "transferId"),
}

// registry lets tests exercise the upcasting path with a table of their own
// while the real one is still empty.
type registry struct {
	codecs    map[string]eventCodec
	upcasters map[upcastKey]upcaster
}

var defaultRegistry = newRegistry(eventCodecs, upcasters)

func newRegistry(codecs []eventCodec, ups map[upcastKey]upcaster) registry {
	r := registry{codecs: make(map[string]eventCodec, len(codecs)), upcasters: ups}
	for _, c := range codecs {
		r.codecs[c.typ] = c
	}
	return r
}

func (r registry) decode(typ string, schemaVersion int, data []byte) (Event, error) {
	c, ok := r.codecs[typ]
	if !ok || schemaVersion < 1 || schemaVersion > c.schemaVersion {
		return nil, &UnknownEventError{Type: typ, SchemaVersion: schemaVersion}
	}
	for v := schemaVersion; v < c.schemaVersion; v++ {
		up, ok := r.upcasters[upcastKey{typ, v}]
		if !ok {
			return nil, &UnknownEventError{Type: typ, SchemaVersion: schemaVersion}
		}
		var err error
		if data, err = up(data); err != nil {
			return nil, fmt.Errorf("decode %s v%d: upcast from v%d: %w: %w", typ, schemaVersion, v, ErrMalformedEvent, err)
		}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w: %w", typ, schemaVersion, ErrMalformedEvent, err)
	}
	if fields == nil {
		return nil, fmt.Errorf("decode %s v%d: %w: data is null", typ, schemaVersion, ErrMalformedEvent)
	}
	for _, f := range c.required {
		if raw, ok := fields[f]; !ok || string(raw) == "null" {
			return nil, fmt.Errorf("decode %s v%d: %w: missing field %q", typ, schemaVersion, ErrMalformedEvent, f)
		}
	}
	e, err := c.decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w: %w", typ, schemaVersion, ErrMalformedEvent, err)
	}
	return e, nil
}
