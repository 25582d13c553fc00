package eventstore

import (
	"encoding/json"
	"time"
)

// Metadata is shared by every event of a commit.
type Metadata struct {
	CommandID     string
	CorrelationID string
	CausationID   string
	Actor         string
	// TraceID is the X-Ray trace id of the invocation that made the
	// commit, when X-Ray recorded it (sampled): what links the commit, and
	// the consumers' log lines about it, to the trace. Empty otherwise.
	TraceID string
}

// NewEvent is an event about to be appended.
type NewEvent struct {
	Type          string
	SchemaVersion int
	// OccurredAt is when the fact happened in the domain; zero means now.
	OccurredAt time.Time
	Data       json.RawMessage
}

// Event is a recorded, immutable event.
type Event struct {
	ID      string
	Stream  StreamID
	Version int64
	Type    string
	// SchemaVersion is the version of Data's shape: as recorded, or the
	// current one once an upcaster lifted it (Schemas.Upcast).
	SchemaVersion int
	// RecordedSchemaVersion is the version the event was recorded at, when
	// an upcaster lifted Data from it; 0 when Data is as recorded (see
	// Recorded).
	RecordedSchemaVersion int
	OccurredAt            time.Time
	// RecordedAt is when the store accepted the commit. It never goes
	// backwards within a stream, so "state at time T" is the fold of the
	// events with RecordedAt <= T.
	RecordedAt time.Time
	Data       json.RawMessage
	CommitID   string
	Metadata
}

// Upcaster turns an event of an old schema version into the current one on
// read. Stored bytes are never rewritten.
type Upcaster func(Event) (Event, error)
