package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"annals/internal/kit/personal"
	"annals/internal/kit/personal/dynamokeys"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/awsconfig/defaultchain"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/s3archive"
	"annals/internal/ledger/app"
	"annals/internal/ledger/env"
	"annals/internal/ledger/wiring/eventsdb"
)

// stream runs the stream subcommands: show.
func (c cli) stream(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "show" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprint(c.stdout, "usage: annals stream show STREAM [--version N | --at T] [--json] [flags]\n")
			return nil
		}
		return usagef("stream: say what to do: annals stream show STREAM")
	}
	return c.streamShow(ctx, args[1:])
}

// streamShow prints a stream's events with their metadata, and the state
// they fold into, read through the event store's own operations.
func (c cli) streamShow(ctx context.Context, args []string) error {
	fs := c.flags("stream show")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: annals stream show STREAM [--version N | --at T] [--json] [flags]

Prints the events of the stream tenant#category#id, each with its type,
schema version, occurred and recorded times, command, correlation,
causation and actor, and the state they fold into: at the head, right
after version N, or as recorded at time T (the events shown stop there
too). Account and transfer streams fold with the ledger's own aggregates.
With $ARCHIVE_BUCKET set, an archived stream shows from its archive. With
$SUBJECT_KEYS_TABLE and $PERSONAL_DATA_KEY set, personal data shows in the
clear, or as [erased] once its data subject is; without them, sealed.

flags:
`)
		fs.PrintDefaults()
	}
	version := fs.Int64("version", 0, "the state right after this version (and the events up to it)")
	atFlag := fs.String("at", "", "the state as recorded at this RFC 3339 time (and the events recorded by then)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	eventsTable := fs.String("events-table", c.envDefault(env.EventsTable), "the events table (default $EVENTS_TABLE)")
	positional, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return usagef("stream show: name one stream, tenant#category#id (got %q)", positional)
	}
	stream, err := eventstore.ParseStreamKey(positional[0])
	if err != nil {
		return usagef("stream show: %v", err)
	}
	var at time.Time
	if *atFlag != "" {
		if at, err = time.Parse(time.RFC3339Nano, *atFlag); err != nil {
			return usagef("stream show: --at %q is not an RFC 3339 time", *atFlag)
		}
	}
	switch {
	case *version < 0:
		return usagef("stream show: --version %d is not a version", *version)
	case *version > 0 && !at.IsZero():
		return usagef("stream show: give --version or --at, not both")
	}
	if err := required(fs, map[string]string{"events-table": env.EventsTable}, "events-table"); err != nil {
		return err
	}
	// Loads look back as far as the writers' K: the functions' own.
	snapshotEvery := eventstore.DefaultSnapshotEvery
	if k := c.envDefault(env.SnapshotEvery); k != "" {
		if n, err := strconv.Atoi(k); err != nil || n < 1 {
			return usagef("stream show: %s=%q is not a positive number", env.SnapshotEvery, k)
		} else {
			snapshotEvery = n
		}
	}

	cfg, err := defaultchain.Load(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var opts []eventstore.Option
	if b := c.envDefault(env.ArchiveBucket); b != "" {
		// An archived stream shows from its archive.
		objects, err := s3archive.New(cfg, b)
		if err != nil {
			return err
		}
		opts = append(opts, eventstore.WithArchive(objects))
	}
	store := eventsdb.Store(dynamodb.NewFromConfig(cfg), *eventsTable, snapshotEvery, log, opts...)

	events, err := readStream(ctx, store, stream, *version, at)
	if err != nil {
		return err
	}
	state, stateErr := app.StateOf(ctx, store, stream, *version, at)
	switch {
	case errors.Is(stateErr, app.ErrNoFold):
		// The events are shown all the same.
	case stateErr != nil:
		return fmt.Errorf("stream show %s: %w", stream, stateErr)
	}
	shown := shownStream{Stream: stream.Key(), Events: make([]shownEvent, len(events))}
	for i, e := range events {
		shown.Events[i] = showEvent(e)
	}
	if stateErr == nil {
		shown.State = &shownState{Version: state.Version, RecordedAt: state.RecordedAt.UTC(), Value: state.Value}
	}
	if table, key := c.envDefault(env.SubjectKeys), c.envDefault(env.PersonalDataKey); table != "" && key != "" {
		vault := personal.NewVault(dynamokeys.NewReader(dynamodb.NewFromConfig(cfg), kms.NewFromConfig(cfg), table, key))
		if err := shown.open(ctx, vault, stream.Tenant); err != nil {
			return fmt.Errorf("stream show %s: %w", stream, err)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(shown)
	}
	return shown.print(c.stdout, *version, at)
}

// readStream reads the stream's events from the first, up to version
// (when above 0) or to the last recorded by at (when not zero), a page of
// up to 1,000 at a time.
func readStream(ctx context.Context, store *eventstore.Store, stream eventstore.StreamID, version int64, at time.Time) ([]eventstore.Event, error) {
	var out []eventstore.Event
	for from := int64(1); ; {
		page, err := store.Read(ctx, stream, from, 1000)
		if err != nil {
			return nil, fmt.Errorf("stream show %s: %w", stream, err)
		}
		for _, e := range page.Events {
			if version > 0 && e.Version > version || !at.IsZero() && e.RecordedAt.After(at) {
				return out, nil
			}
			out = append(out, e)
		}
		if page.Next == 0 {
			return out, nil
		}
		from = page.Next
	}
}

// shownStream is what stream show prints, and its JSON.
type shownStream struct {
	Stream string       `json:"stream"`
	Events []shownEvent `json:"events"`
	// State is the fold of the events; absent for a category the ledger
	// keeps no aggregate of.
	State *shownState `json:"state,omitempty"`
}

// shownEvent is an event as the audit trail shows it: SchemaVersion as
// recorded, the data in the shape of DataSchemaVersion (the current one).
type shownEvent struct {
	Version           int64           `json:"version"`
	EventID           string          `json:"eventId"`
	Type              string          `json:"type"`
	SchemaVersion     int             `json:"schemaVersion"`
	DataSchemaVersion int             `json:"dataSchemaVersion"`
	OccurredAt        time.Time       `json:"occurredAt"`
	RecordedAt        time.Time       `json:"recordedAt"`
	CommitID          string          `json:"commitId"`
	CommandID         string          `json:"commandId,omitempty"`
	CorrelationID     string          `json:"correlationId,omitempty"`
	CausationID       string          `json:"causationId,omitempty"`
	Actor             string          `json:"actor,omitempty"`
	TraceID           string          `json:"traceId,omitempty"`
	Data              json.RawMessage `json:"data"`
}

type shownState struct {
	Version    int64     `json:"version"`
	RecordedAt time.Time `json:"recordedAt"`
	Value      any       `json:"value"`
}

// open shows the personal data the events and the state hold: in the
// clear, or erased.
func (s *shownStream) open(ctx context.Context, vault *personal.Vault, tenant string) error {
	for i := range s.Events {
		data, err := vault.OpenJSON(ctx, tenant, s.Events[i].Data)
		if err != nil {
			return err
		}
		s.Events[i].Data = data
	}
	if s.State == nil {
		return nil
	}
	raw, err := json.Marshal(s.State.Value)
	if err != nil {
		return err
	}
	opened, err := vault.OpenJSON(ctx, tenant, raw)
	s.State.Value = json.RawMessage(opened)
	return err
}

func showEvent(e eventstore.Event) shownEvent {
	return shownEvent{
		Version: e.Version, EventID: e.ID, Type: e.Type, SchemaVersion: e.Recorded(), DataSchemaVersion: e.SchemaVersion,
		OccurredAt: e.OccurredAt.UTC(), RecordedAt: e.RecordedAt.UTC(), CommitID: e.CommitID,
		CommandID: e.CommandID, CorrelationID: e.CorrelationID, CausationID: e.CausationID,
		Actor: e.Actor, TraceID: e.TraceID, Data: e.Data,
	}
}

// timeFormat is how the CLI's tables write times: UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z"

// dataWidth bounds the data column of the table; --json has it whole.
const dataWidth = 60

// print writes the table of events, then the state.
func (s shownStream) print(w io.Writer, version int64, at time.Time) error {
	bound := "to its head"
	switch {
	case version > 0:
		bound = fmt.Sprintf("to version %d", version)
	case !at.IsZero():
		bound = "as recorded at " + at.UTC().Format(timeFormat)
	}
	fmt.Fprintf(w, "%s: %d event(s) %s\n\n", s.Stream, len(s.Events), bound)
	traced := false
	for _, e := range s.Events {
		traced = traced || e.TraceID != ""
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "VERSION\tTYPE\tSCHEMA\tOCCURRED\tRECORDED\tCOMMAND\tCORRELATION\tCAUSATION\tACTOR"
	if traced {
		head += "\tTRACE"
	}
	fmt.Fprintln(tw, head+"\tDATA")
	for _, e := range s.Events {
		row := fmt.Sprintf("%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s", e.Version, e.Type, e.SchemaVersion,
			e.OccurredAt.Format(timeFormat), e.RecordedAt.Format(timeFormat),
			dash(e.CommandID), dash(e.CorrelationID), dash(e.CausationID), dash(e.Actor))
		if traced {
			row += "\t" + dash(e.TraceID)
		}
		fmt.Fprintln(tw, row+"\t"+clip(string(e.Data), dataWidth))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.State == nil {
		fmt.Fprintln(w, "\nno state: the ledger keeps no aggregate of this category")
		return nil
	}
	state, err := json.MarshalIndent(s.State.Value, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nstate at version %d, recorded %s:\n%s\n", s.State.Version, s.State.RecordedAt.Format(timeFormat), state)
	return nil
}

// dash is v, or - for an empty cell.
func dash(v string) string {
	if v == "" {
		return "-"
	}
	return v
}

// clip shortens s to n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
