// Package projection is the engine of the read models a projector keeps
// current from the public event stream (docs/events.md). An application
// gives it its views; the engine knows none of them.
//
// Each read model restores order by itself (Projection holds the rules, a
// Model says how one view loads, folds and saves a stream): it
// stores, per stream, the last applied version in the same conditional write
// as the state. An event at or below it is a duplicate and is skipped; the
// next version is applied; a gap is filled at once by reading the missing
// versions from the events table with consistent reads. Event types a view
// does not use still advance its position. A poison event (one that does
// not decode, or that the view cannot store) goes to the dead-letter queue
// and quarantines its stream in that view only; other streams keep flowing,
// and the quarantined stream is skipped until a redrive lifts it.
// Infrastructure errors (throttling, 5xx, timeouts, anything not proven to
// be about the event) are never poison: the record is reported back to the
// event source mapping, which retries it.
//
// The projector decodes each event's data once, with the application's
// Decoder, and hands the result to every view (Event, Decoded).
package projection
