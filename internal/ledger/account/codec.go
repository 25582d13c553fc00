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
// Fields without which an event would fold into a wrong state are required:
// an event is refused unless its data gives each of them a value other
// than null (as encoding/json reads keys: in any case, the last one
// given).
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
	e, err := c.decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w: %w", typ, schemaVersion, ErrMalformedEvent, err)
	}
	return e, nil
}
