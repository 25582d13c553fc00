package eventstore_test

import (
	"encoding/json"
	"errors"
	"testing"

	"annals/internal/kit/eventstore"
)

func lift(add string) eventstore.Lift {
	return func(data json.RawMessage) (json.RawMessage, error) {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		m[add] = true
		return json.Marshal(m)
	}
}

func TestSchemasUpcastStepByStep(t *testing.T) {
	s := eventstore.MustSchemas(
		eventstore.EventType{Name: "Noted", Current: 3, Lifts: []eventstore.Lift{lift("v2"), lift("v3")}},
		eventstore.EventType{Name: "Kept", Current: 1},
	)
	for _, c := range []struct {
		name     string
		e        eventstore.Event
		data     string
		version  int
		recorded int
		err      error
	}{
		{"from 1", eventstore.Event{Type: "Noted", SchemaVersion: 1, Data: json.RawMessage(`{"n":1}`)}, `{"n":1,"v2":true,"v3":true}`, 3, 1, nil},
		{"from 2", eventstore.Event{Type: "Noted", SchemaVersion: 2, Data: json.RawMessage(`{"n":1}`)}, `{"n":1,"v3":true}`, 3, 2, nil},
		{"current", eventstore.Event{Type: "Noted", SchemaVersion: 3, Data: json.RawMessage(`{"n":1}`)}, `{"n":1}`, 3, 3, nil},
		{"undeclared", eventstore.Event{Type: "Other", SchemaVersion: 9, Data: json.RawMessage(`{}`)}, `{}`, 9, 9, nil},
		{"too new", eventstore.Event{Type: "Kept", SchemaVersion: 2, Data: json.RawMessage(`{}`)}, `{}`, 2, 2, eventstore.ErrSchemaTooNew},
		{"zero", eventstore.Event{Type: "Noted", SchemaVersion: 0, Data: json.RawMessage(`{}`)}, `{}`, 0, 0, eventstore.ErrLift},
		{"lift fails", eventstore.Event{Type: "Noted", SchemaVersion: 1, Data: json.RawMessage(`[]`)}, `[]`, 1, 1, eventstore.ErrLift},
	} {
		got, err := s.Upcast(c.e)
		if !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.err)
		}
		if string(got.Data) != c.data || got.SchemaVersion != c.version || got.Recorded() != c.recorded {
			t.Errorf("%s: %s at %d recorded at %d, want %s at %d recorded at %d", c.name, got.Data, got.SchemaVersion, got.Recorded(), c.data, c.version, c.recorded)
		}
	}
	var tooNew *eventstore.SchemaTooNewError
	if _, err := s.Upcast(eventstore.Event{Type: "Kept", SchemaVersion: 2}); !errors.As(err, &tooNew) || tooNew.Readable != 1 || tooNew.Version != 2 {
		t.Errorf("too new: %v", err)
	}
}

func TestNewSchemasRefusesBadDeclarations(t *testing.T) {
	for name, types := range map[string][]eventstore.EventType{
		"no name":        {{Current: 1}},
		"version 0":      {{Name: "A"}},
		"missing lift":   {{Name: "A", Current: 2}},
		"one too many":   {{Name: "A", Current: 1, Lifts: []eventstore.Lift{lift("x")}}},
		"declared twice": {{Name: "A", Current: 1}, {Name: "A", Current: 1}},
	} {
		if _, err := eventstore.NewSchemas(types...); !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
