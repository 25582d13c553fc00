// Package envelope owns the public, versioned form in which commits travel
// on the events stream (docs/events.md): what the fanout writes and every
// consumer reads.
package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"annals/internal/kit/eventstore"
)

// The public envelope, version 1 (docs/events.md): one Kinesis record per
// commit, its data a CloudEvents 1.0 JSON batch (a JSON array of structured
// events, one per event of the commit, in version order).
const (
	SpecVersion     = "1.0"
	DataContentType = "application/json"
	sourcePrefix    = "annals/"
)

// ErrInvalid is wrapped by every error of Decode.
var ErrInvalid = errors.New("invalid event envelope")

// cloudEvent is one CloudEvent in JSON format. Extension names are lowercase
// letters and digits only, as CloudEvents requires.
type cloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`

	StreamVersion int64  `json:"streamversion"`
	SchemaVersion int    `json:"schemaversion"`
	OccurredAt    string `json:"occurredat"`
	CommitID      string `json:"commitid"`
	CommandID     string `json:"commandid,omitempty"`
	CorrelationID string `json:"correlationid,omitempty"`
	CausationID   string `json:"causationid,omitempty"`
	Actor         string `json:"actor,omitempty"`
	Tenant        string `json:"tenant"`
	XRayTraceID   string `json:"xraytraceid,omitempty"`
}

// Source is the CloudEvents source of a stream's events.
func Source(s eventstore.StreamID) string {
	return sourcePrefix + s.Tenant + "/" + s.Category
}

// Encode renders one commit's events as the envelope.
func Encode(evs []eventstore.Event) ([]byte, error) {
	if len(evs) == 0 {
		return nil, errors.New("encode envelope: a commit has at least one event")
	}
	batch := make([]cloudEvent, len(evs))
	for i, e := range evs {
		batch[i] = cloudEvent{
			SpecVersion:     SpecVersion,
			ID:              e.ID,
			Source:          Source(e.Stream),
			Type:            e.Type,
			Subject:         e.Stream.ID,
			Time:            e.RecordedAt.UTC().Format(time.RFC3339Nano),
			DataContentType: DataContentType,
			Data:            e.Data,
			StreamVersion:   e.Version,
			SchemaVersion:   e.SchemaVersion,
			OccurredAt:      e.OccurredAt.UTC().Format(time.RFC3339Nano),
			CommitID:        e.CommitID,
			CommandID:       e.CommandID,
			CorrelationID:   e.CorrelationID,
			CausationID:     e.CausationID,
			Actor:           e.Actor,
			Tenant:          e.Stream.Tenant,
			XRayTraceID:     e.TraceID,
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Event data travels as the bytes that were stored, not HTML-escaped.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(batch); err != nil {
		return nil, fmt.Errorf("encode envelope of %s: %w", evs[0].Stream, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Decode reads a Kinesis record's data back into the commit's
// events, checking that they form one commit of one stream: same stream,
// commit and metadata, consecutive versions.
func Decode(data []byte) ([]eventstore.Event, error) {
	batch, ok := readCanonical(data)
	if !ok {
		if err := json.Unmarshal(data, &batch); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if len(batch) == 0 {
		return nil, fmt.Errorf("%w: empty batch", ErrInvalid)
	}
	evs := make([]eventstore.Event, len(batch))
	for i, ce := range batch {
		e, err := decodeEvent(ce)
		if err != nil {
			return nil, fmt.Errorf("%w: event %d: %v", ErrInvalid, i, err)
		}
		if i > 0 {
			p := evs[0]
			switch {
			case e.Stream != p.Stream:
				return nil, fmt.Errorf("%w: event %d is on stream %s, not %s", ErrInvalid, i, e.Stream, p.Stream)
			case e.Version != evs[i-1].Version+1:
				return nil, fmt.Errorf("%w: event %d has version %d after %d", ErrInvalid, i, e.Version, evs[i-1].Version)
			case e.CommitID != p.CommitID || e.Metadata != p.Metadata || !e.RecordedAt.Equal(p.RecordedAt):
				return nil, fmt.Errorf("%w: event %d is not of the same commit as event 0", ErrInvalid, i)
			}
		}
		evs[i] = e
	}
	return evs, nil
}

func decodeEvent(ce cloudEvent) (eventstore.Event, error) {
	var e eventstore.Event
	if ce.SpecVersion != SpecVersion {
		return e, fmt.Errorf("specversion %q is not %q", ce.SpecVersion, SpecVersion)
	}
	if ce.DataContentType != DataContentType {
		return e, fmt.Errorf("datacontenttype %q is not %q", ce.DataContentType, DataContentType)
	}
	for _, f := range []struct{ name, v string }{{"id", ce.ID}, {"type", ce.Type}, {"commitid", ce.CommitID}} {
		if f.v == "" {
			return e, fmt.Errorf("%s is empty", f.name)
		}
	}
	category, ok := strings.CutPrefix(ce.Source, sourcePrefix+ce.Tenant+"/")
	if !ok {
		return e, fmt.Errorf("source %q is not %s<tenant>/<category> of tenant %q", ce.Source, sourcePrefix, ce.Tenant)
	}
	stream, err := eventstore.NewStreamID(ce.Tenant, category, ce.Subject)
	if err != nil {
		return e, err
	}
	if ce.StreamVersion < 1 {
		return e, fmt.Errorf("streamversion %d is not positive", ce.StreamVersion)
	}
	recorded, err := time.Parse(time.RFC3339Nano, ce.Time)
	if err != nil {
		return e, fmt.Errorf("time: %v", err)
	}
	occurred, err := time.Parse(time.RFC3339Nano, ce.OccurredAt)
	if err != nil {
		return e, fmt.Errorf("occurredat: %v", err)
	}
	data, err := compact(ce.Data)
	if err != nil {
		return e, err
	}
	return eventstore.Event{
		ID:            ce.ID,
		Stream:        stream,
		Version:       ce.StreamVersion,
		Type:          ce.Type,
		SchemaVersion: ce.SchemaVersion,
		OccurredAt:    occurred.UTC(),
		RecordedAt:    recorded.UTC(),
		Data:          data,
		CommitID:      ce.CommitID,
		Metadata: eventstore.Metadata{
			CommandID:     ce.CommandID,
			CorrelationID: ce.CorrelationID,
			CausationID:   ce.CausationID,
			Actor:         ce.Actor,
			TraceID:       ce.XRayTraceID,
		},
	}, nil
}

// compact returns data, a value of the decoded batch, without
// insignificant whitespace, as the events table holds it. The fan-out
// writes it so already: only data with a blank somewhere is copied.
func compact(data json.RawMessage) (json.RawMessage, error) {
	if len(data) == 0 {
		return nil, errors.New("data is missing or not JSON")
	}
	if !bytes.ContainsAny(data, " \t\r\n") {
		return data, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return nil, errors.New("data is missing or not JSON")
	}
	return b.Bytes(), nil
}
