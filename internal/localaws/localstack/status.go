package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"annals/internal/kit/projection"
	"annals/internal/kit/projection/viewtable"
)

// StatusPath is where the local gateway answers the pipeline's status, as
// JSON: the stack's own route, which a deployed stack does not have.
const StatusPath = "/local/status"

// StatusReport is the body of GET /local/status.
type StatusReport struct {
	At          time.Time        `json:"at"`
	Consumers   []ConsumerStatus `json:"consumers"`
	Quarantined []Quarantined    `json:"quarantined"`
	// Errors says what could not be read; the rest is still reported.
	Errors []string `json:"errors"`
}

// ConsumerStatus is one event source's counters (localsources.Stats) and
// its dead letters.
type ConsumerStatus struct {
	Function     string `json:"function"`
	Event        string `json:"event"`
	Kind         string `json:"kind"`
	Source       string `json:"source"`
	Shards       int    `json:"shards"`
	Seen         int64  `json:"seen"`
	Filtered     int64  `json:"filtered"`
	Delivered    int64  `json:"delivered"`
	Failed       int64  `json:"failed"`
	Invocations  int64  `json:"invocations"`
	Retries      int64  `json:"retries"`
	Behind       int64  `json:"behind"`
	MillisBehind int64  `json:"millisBehind"`
	// DeadLetters is the depth of the OnFailure queue, null when the
	// source has none or it could not be read.
	DeadLetters *int `json:"deadLetters"`
}

// Quarantined is a stream a view stopped at a poison event.
type Quarantined struct {
	View string `json:"view"`
	// Stream is the stream's key in the view's table: tenant#id.
	Stream string `json:"stream"`
	// Version is the last version the view applied; At the one it
	// stopped at.
	Version int64  `json:"version"`
	At      int64  `json:"at"`
	Reason  string `json:"reason"`
}

// Quarantines lists the streams each view of Config.Views has
// quarantined, by view and stream, with an error per view whose table
// could not be read.
func (s *Stack) Quarantines(ctx context.Context) ([]Quarantined, []error) {
	names := make([]string, 0, len(s.views))
	for name := range s.views {
		names = append(names, name)
	}
	slices.Sort(names)
	out := []Quarantined{}
	var errs []error
	for _, view := range names {
		table, ok := s.Names.Tables[s.views[view]]
		if !ok {
			errs = append(errs, fmt.Errorf("view %s: the template has no table %s", view, s.views[view]))
			continue
		}
		_, err := viewtable.Quarantined(ctx, s.dynamodb, table, func(tenant, id string, pos projection.Position) error {
			out = append(out, Quarantined{View: view, Stream: tenant + "#" + id, Version: pos.Version,
				At: pos.Quarantine.At, Reason: pos.Quarantine.Reason})
			return nil
		}, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("view %s: %w", view, err))
		}
	}
	slices.SortStableFunc(out, func(a, b Quarantined) int {
		if c := strings.Compare(a.View, b.View); c != 0 {
			return c
		}
		return strings.Compare(a.Stream, b.Stream)
	})
	return out, errs
}

// Report is the status GET /local/status answers.
func (s *Stack) Report(ctx context.Context) StatusReport {
	r := StatusReport{At: time.Now().UTC(), Consumers: []ConsumerStatus{}, Errors: []string{}}
	for _, c := range s.Status(ctx) {
		cs := ConsumerStatus{
			Function: c.Function, Event: c.Event, Kind: string(c.Kind), Source: c.Source, Shards: c.Shards,
			Seen: c.Seen, Filtered: c.Filtered, Delivered: c.Delivered, Failed: c.Failed,
			Invocations: c.Invocations, Retries: c.Retries, Behind: c.Behind, MillisBehind: c.MillisBehind,
		}
		if c.DeadLetters >= 0 {
			cs.DeadLetters = &c.DeadLetters
		}
		r.Consumers = append(r.Consumers, cs)
	}
	qs, errs := s.Quarantines(ctx)
	r.Quarantined = qs
	for _, err := range errs {
		r.Errors = append(r.Errors, err.Error())
	}
	return r
}

// serveStatus answers GET /local/status. It only reads: counters in
// memory, the dead-letter queues' depths and the views' tables.
func (s *Stack) serveStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	body, err := json.Marshal(s.Report(ctx))
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, `{"message":"Internal Server Error"}`)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, string(body))
}
