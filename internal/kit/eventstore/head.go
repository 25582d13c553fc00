package eventstore

import "time"

// Head is the observed end of a stream: the only thing Append accepts as an
// expected version. Its fields are unexported, so a Head can only come from
// NewStream, a Load, or a previous Append, never from a number the caller
// made up (a version from the past, an HTTP If-Match): the next commit's key
// is exactly head+1, and a stale writer always collides.
//
// The zero Head is refused.
type Head struct {
	stream     StreamID
	version    int64
	recordedAt time.Time
	observed   bool
	// archived: the stream's commits are in an archive; it takes none.
	archived bool
}

// NewStream is the head of a stream that must not exist yet.
func NewStream(stream StreamID) Head {
	return Head{stream: stream, observed: true}
}

// Stream is the stream this head was observed on.
func (h Head) Stream() StreamID { return h.stream }

// Version is the version of the last event; 0 for a new stream.
func (h Head) Version() int64 { return h.version }

// IsNew reports whether the head is that of a stream not yet written.
func (h Head) IsNew() bool { return h.version == 0 }

// Archived reports whether the stream was archived: it takes no commits
// until it is restored.
func (h Head) Archived() bool { return h.archived }

// RecordedAt is when the last event was recorded (zero for a new stream).
func (h Head) RecordedAt() time.Time { return h.recordedAt }
