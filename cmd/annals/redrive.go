package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/kit/awsconfig/defaultchain"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/fanout"
	"annals/internal/kit/projection"
	"annals/internal/kit/redrive"
	"annals/internal/kit/sqsqueue"
	"annals/internal/ledger/views"
	"annals/internal/ledger/wiring/eventsdb"
)

func (c cli) redrive(ctx context.Context, args []string) error {
	fs := c.flags("redrive")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage:
  annals redrive --stream KEY --republish [--from N] [--to M]   put the stream's commits back on the events stream
  annals redrive --stream KEY --lift [--view V]                 lift its quarantine and catch it up from the events table
  annals redrive --from-queue URL [--view V]                    lift every stream the dead letters name
  annals redrive --skipped [--republish]                        list the commits the fan-out skipped, or send them

flags:
`)
		fs.PrintDefaults()
	}
	streamKey := fs.String("stream", "", "the stream key, tenant#category#id")
	fromQueue := fs.String("from-queue", "", "the dead-letter queue URL to read letters from")
	skipped := fs.Bool("skipped", false, "list the commits the fan-out skipped (the letters on its queue); with --republish, send them")
	skippedQueue := fs.String("skipped-queue", c.envDefault("SKIPPED_QUEUE_URL"), "with --skipped: the fan-out's skipped-commits queue (default $SKIPPED_QUEUE_URL)")
	republish := fs.Bool("republish", false, "with --stream: put its commits from --from to --to back on the events stream; with --skipped: the commits the letters name")
	lift := fs.Bool("lift", false, "with --stream: lift its quarantine in the view(s) and catch it up from the events table")
	from := fs.Int64("from", 1, "with --republish: the first version to republish (its whole commit goes)")
	to := fs.Int64("to", 0, "with --republish: the last version to republish (0: the head)")
	view := fs.String("view", "all", "the view(s) to lift: "+strings.Join(views.Names(), ", ")+" or all")
	eventsTable := fs.String("events-table", c.envDefault("EVENTS_TABLE"), "the events table (default $EVENTS_TABLE)")
	kinesisStream := fs.String("kinesis-stream", c.envDefault("STREAM_NAME"), "with --republish: the events stream's name (default $STREAM_NAME)")
	tables := map[string]*string{}
	for _, v := range views.All {
		tables[v.Name] = fs.String(v.Name+"-table", c.envDefault(v.Env), fmt.Sprintf("the %s view's table (default $%s)", v.Name, v.Env))
	}
	dlq := fs.String("dead-letter-queue", c.envDefault("DEAD_LETTER_QUEUE_URL"), "where a lift that finds the stream still poisoned sends its new dead letter (default $DEAD_LETTER_QUEUE_URL, or --from-queue)")
	visibility := fs.Int("visibility", 300, "with --from-queue or --skipped --republish: seconds a letter that stays stays hidden, so one run reads each letter once")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("redrive: unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	modes := 0
	for _, on := range []bool{*streamKey != "", *fromQueue != "", *skipped} {
		if on {
			modes++
		}
	}
	switch {
	case modes != 1:
		return usagef("redrive: give exactly one of --stream KEY, --from-queue URL or --skipped")
	case *skipped && (*lift || set["view"]):
		return usagef("redrive: --skipped lists or republishes the commits the fan-out skipped; --lift and --view go with --stream or --from-queue")
	case *skipped && (set["from"] || set["to"]):
		return usagef("redrive: --skipped republishes the commits its letters name; --from and --to go with --stream")
	case *fromQueue != "" && (*republish || *lift):
		return usagef("redrive: --from-queue lifts the streams its letters name; --republish and --lift go with --stream")
	case *streamKey != "" && !*republish && !*lift:
		return usagef("redrive: say what to do with %s: --republish (onto the events stream), --lift (the views' quarantine), or both", *streamKey)
	case (set["from"] || set["to"]) && !*republish:
		return usagef("redrive: --from and --to choose what --republish sends; a lift always catches up to the head")
	case *republish && (*from < 1 || *to != 0 && *to < *from):
		return usagef("redrive: --from %d --to %d is not a range of versions", *from, *to)
	case set["view"] && *republish && !*lift:
		return usagef("redrive: --view chooses what --lift lifts; --republish goes to every consumer of the events stream")
	}
	var chosen []views.Definition
	for _, v := range views.All {
		if *view == "all" || *view == v.Name {
			chosen = append(chosen, v)
		}
	}
	if len(chosen) == 0 {
		return usagef("redrive: unknown --view %q (%s or all)", *view, strings.Join(views.Names(), ", "))
	}
	var stream eventstore.StreamID
	if *streamKey != "" {
		var err error
		if stream, err = eventstore.ParseStreamKey(*streamKey); err != nil {
			return usagef("redrive: --stream: %v", err)
		}
		// Only the views that keep such streams take part (and need
		// their tables).
		chosen = slices.DeleteFunc(chosen, func(v views.Definition) bool { return v.Category != stream.Category })
		if *lift && len(chosen) == 0 {
			return usagef("redrive: no view given (--view %s) holds %q streams", *view, stream.Category)
		}
	}
	needs := map[string]string{"events-table": "EVENTS_TABLE"}
	if *republish {
		needs["kinesis-stream"] = "STREAM_NAME"
	}
	if *skipped {
		needs["skipped-queue"] = "SKIPPED_QUEUE_URL"
		if !*republish {
			// A listing reads the queue alone.
			delete(needs, "events-table")
		}
	}
	lifting := *lift || *fromQueue != ""
	if lifting {
		if *dlq == "" {
			*dlq = *fromQueue
		}
		needs["dead-letter-queue"] = "DEAD_LETTER_QUEUE_URL"
		for _, v := range chosen {
			needs[v.Name+"-table"] = v.Env
		}
	}
	if err := required(fs, needs, slices.Sorted(maps.Keys(needs))...); err != nil {
		return err
	}

	if *timeout <= 0 || *visibility < 0 || *visibility > maxVisibility {
		return usagef("redrive: --timeout must be positive and --visibility from 0 to %d seconds", maxVisibility)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	cfg, err := defaultchain.Load(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	db := dynamodb.NewFromConfig(cfg)
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	events := eventsdb.Store(db, *eventsTable, eventstore.DefaultSnapshotEvery, log)
	w := c.stdout

	if *skipped {
		sqsClient := sqs.NewFromConfig(cfg)
		if !*republish {
			letters, err := redrive.ListSkipped(ctx, sqsClient, *skippedQueue, listVisibility)
			for _, l := range letters {
				fmt.Fprintln(w, l)
			}
			fmt.Fprintf(w, "%d letter(s) on %s\n", len(letters), *skippedQueue)
			return err
		}
		pub := fanout.New(fanout.Config{Kinesis: kinesis.NewFromConfig(cfg), Stream: *kinesisStream, Log: log})
		res, err := redrive.RepublishSkipped(ctx, sqsClient, *skippedQueue, int32(*visibility), events, pub)
		for _, r := range res.Republished {
			fmt.Fprintf(w, "republished %s\n", r)
		}
		for _, k := range res.Kept {
			fmt.Fprintf(w, "kept %s\n", k)
		}
		fmt.Fprintf(w, "read %d letter(s) from %s: %d deleted, %d kept; %d commit(s) onto %s in %d request(s)\n",
			res.Letters, *skippedQueue, res.Deleted, len(res.Kept), len(res.Republished), *kinesisStream, res.Requests)
		if err != nil {
			return err
		}
		if len(res.Kept) > 0 {
			return fmt.Errorf("redrive --skipped: %d letter(s) kept on the queue", len(res.Kept))
		}
		return nil
	}
	if *republish {
		pub := fanout.New(fanout.Config{Kinesis: kinesis.NewFromConfig(cfg), Stream: *kinesisStream, Log: log})
		res, err := redrive.Republish(ctx, events, pub, stream, *from, *to)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "republished %s versions %d..%d: %d commit(s) onto %s in %d request(s)\n",
			stream, res.From, res.To, res.Commits, *kinesisStream, res.Requests)
	}
	if !lifting {
		return nil
	}
	sqsClient := sqs.NewFromConfig(cfg)
	dead := projection.NewDeadLetters(sqsqueue.New(sqsClient, *dlq))
	var lifters []redrive.Lifter
	for _, v := range chosen {
		lifters = append(lifters, v.New(db, *tables[v.Name], events, dead, log))
	}
	if *fromQueue == "" {
		lifted, err := redrive.Lift(ctx, stream, lifters...)
		healed := true
		for _, l := range lifted {
			fmt.Fprintf(w, "%s %s\n", stream, l)
			healed = healed && l.Healed()
		}
		if err != nil {
			return err
		}
		if !healed {
			return fmt.Errorf("lift %s: still quarantined; fix the cause, then lift again", stream)
		}
		return nil
	}
	res, err := redrive.Drain(ctx, sqsClient, *fromQueue, int32(*visibility), lifters...)
	for _, key := range slices.Sorted(maps.Keys(res.Lifted)) {
		for _, l := range res.Lifted[key] {
			fmt.Fprintf(w, "%s %s\n", key, l)
		}
	}
	for _, k := range res.Kept {
		fmt.Fprintf(w, "kept %s\n", k)
	}
	fmt.Fprintf(w, "read %d letter(s) from %s: %d deleted, %d kept\n", res.Letters, *fromQueue, res.Deleted, len(res.Kept))
	if err != nil {
		return err
	}
	if len(res.Kept) > 0 {
		return fmt.Errorf("redrive from %s: %d letter(s) kept on the queue", *fromQueue, len(res.Kept))
	}
	return nil
}

// maxVisibility is SQS's longest visibility timeout: 12 hours.
const maxVisibility = 12 * 60 * 60

// listVisibility hides each letter while a listing reads the queue (so that
// it reads each once); the listing then shows them all again.
const listVisibility = 30
