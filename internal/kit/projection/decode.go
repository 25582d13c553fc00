package projection

import "annals/internal/kit/eventstore"

// Decoder reads a stored event's data into the application's event, as
// the views' own decoding does. The projector runs it once per event for
// all its views, where each view would otherwise decode the same bytes
// again; an error is kept with the event, for a view that folds the
// event's type to take for poison.
type Decoder func(eventstore.Event) (any, error)

// Event is an event as a view folds it: as stored, with what the
// projector's Decoder made of its data. Events the projector did not
// decode (a gap filled from the events table, a rebuild, a lift) carry
// neither; Decoded reads them.
type Event struct {
	eventstore.Event
	Decoded any
	// Err is why the Decoder could not read the data.
	Err error
}

// Decoded returns what the projector decoded e into, or what decode makes
// of it when the projector did not decode it into a T.
func Decoded[T any](e Event, decode func(eventstore.Event) (T, error)) (T, error) {
	if e.Err != nil {
		var zero T
		return zero, e.Err
	}
	if v, ok := e.Decoded.(T); ok {
		return v, nil
	}
	return decode(e.Event)
}

// decodeAll returns evs decoded by d; a nil d leaves each view to decode
// for itself.
func decodeAll(d Decoder, evs []eventstore.Event) []Event {
	out := make([]Event, len(evs))
	for i, e := range evs {
		out[i].Event = e
		if d != nil {
			out[i].Decoded, out[i].Err = d(e)
		}
	}
	return out
}
