package eventstore

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Lift rewrites one event's data from schema version n into version n+1.
// It sees the data alone: what a version adds must be derivable from the
// older data (or be a documented default).
type Lift func(data json.RawMessage) (json.RawMessage, error)

// EventType declares one event type of a domain: its stored name, the
// schema version its code writes now, and the lifts that bring every older
// version up to it. Lifts[i] reads version i+1, so a type at version n has
// n-1 of them. A lift is never removed while items of its version may
// exist (docs/events.md).
type EventType struct {
	Name    string
	Current int
	Lifts   []Lift
}

// Schemas is a domain's catalogue of event types: what every reader (the
// store's loads and reads, projections, rebuilds, process managers) sees
// events through, so that all of them see an event in its current shape.
type Schemas struct {
	types map[string]EventType
}

// NewSchemas checks and indexes declared types: one declaration per name,
// a current version of at least 1 and exactly one lift per older version.
func NewSchemas(types ...EventType) (*Schemas, error) {
	s := &Schemas{types: make(map[string]EventType, len(types))}
	for _, t := range types {
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("%w: an event type without a name", ErrInvalid)
		case t.Current < 1:
			return nil, fmt.Errorf("%w: %s at schema version %d", ErrInvalid, t.Name, t.Current)
		case len(t.Lifts) != t.Current-1:
			return nil, fmt.Errorf("%w: %s at schema version %d has %d lifts, want %d", ErrInvalid, t.Name, t.Current, len(t.Lifts), t.Current-1)
		}
		if _, dup := s.types[t.Name]; dup {
			return nil, fmt.Errorf("%w: %s declared twice", ErrInvalid, t.Name)
		}
		s.types[t.Name] = t
	}
	return s, nil
}

// MustSchemas is NewSchemas for a domain's package-level catalogue.
func MustSchemas(types ...EventType) *Schemas {
	s, err := NewSchemas(types...)
	if err != nil {
		panic(err)
	}
	return s
}

// Current is the schema version a type is written at, false for a type
// the catalogue does not declare.
func (s *Schemas) Current(name string) (int, bool) {
	t, ok := s.types[name]
	return t.Current, ok
}

// ErrSchemaTooNew is wrapped by *SchemaTooNewError.
var ErrSchemaTooNew = errors.New("event schema version newer than this code reads")

// SchemaTooNewError is an event recorded at a schema version this code
// does not know: written by a newer deployment. It is never guessed at:
// consumers quarantine the stream, commands are refused, until code that
// knows the version runs.
type SchemaTooNewError struct {
	Type     string
	Version  int // as recorded
	Readable int // the newest this code reads
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("%s at schema version %d: this code reads up to version %d", e.Type, e.Version, e.Readable)
}

func (e *SchemaTooNewError) Unwrap() error { return ErrSchemaTooNew }

// ErrLift is wrapped when a lift fails on an event's data.
var ErrLift = errors.New("event data cannot be lifted to the current schema")

// Upcast returns e in its type's current shape: its data lifted step by
// step from the recorded version, SchemaVersion the current one and
// RecordedSchemaVersion the recorded one. An event already current, or of
// a type the catalogue does not declare (the domain decides what to make
// of those), is returned as it is. A version newer than the current one is
// a *SchemaTooNewError; one below 1 is ErrLift.
func (s *Schemas) Upcast(e Event) (Event, error) {
	t, ok := s.types[e.Type]
	if !ok || e.SchemaVersion == t.Current {
		return e, nil
	}
	if e.SchemaVersion > t.Current {
		return e, &SchemaTooNewError{Type: e.Type, Version: e.SchemaVersion, Readable: t.Current}
	}
	if e.SchemaVersion < 1 {
		return e, fmt.Errorf("%s at schema version %d: %w", e.Type, e.SchemaVersion, ErrLift)
	}
	data := e.Data
	for v := e.SchemaVersion; v < t.Current; v++ {
		var err error
		if data, err = t.Lifts[v-1](data); err != nil {
			return e, fmt.Errorf("%s from schema version %d to %d: %w: %w", e.Type, v, v+1, ErrLift, err)
		}
	}
	if e.RecordedSchemaVersion == 0 {
		e.RecordedSchemaVersion = e.SchemaVersion
	}
	e.Data, e.SchemaVersion = data, t.Current
	return e, nil
}

// Upcaster is Upcast as a store option's function (WithUpcaster).
func (s *Schemas) Upcaster() Upcaster { return s.Upcast }

// Recorded is the schema version the event was recorded at.
func (e Event) Recorded() int {
	if e.RecordedSchemaVersion != 0 {
		return e.RecordedSchemaVersion
	}
	return e.SchemaVersion
}
