package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/kit/awsconfig"
	"annals/internal/kit/awsconfig/defaultchain"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/redrive"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/app"
	"annals/internal/ledger/env"
	"annals/internal/ledger/views"
	"annals/internal/ledger/wiring/transfers"
)

// sweepTransfers drives the transfers the transfer view shows pending for
// longer than --older-than (those the process manager gave up on, their
// batch on its dead-letter queue, or never got) and the transfers whose
// commits the fan-out skipped, which the view may not hold at all. It runs
// the manager's own steps, so a transfer that is in fact moving only goes
// where it already would, and running it again is harmless.
func (c cli) sweepTransfers(ctx context.Context, args []string) error {
	fs := c.flags("sweep-transfers")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage:
  annals sweep-transfers [--older-than D] [--page N] [flags]

Drives every transfer pending for longer than --older-than to completed or
failed, with the process manager's own guarded steps. It first drives the
transfers the fan-out skipped a commit of (the letters on its queue, left
there: a transfer whose request was skipped has no row in the view), then
reads the transfer view's Pending index --page transfers at a time, oldest
first, to its end: a transfer that cannot move is counted and passed.

`)
		fs.PrintDefaults()
	}
	olderThan := fs.Duration("older-than", time.Minute, "sweep transfers requested at least this long ago")
	page := fs.Int("page", 100, "transfers read from the Pending index per query")
	eventsTable := fs.String("events-table", c.envDefault("EVENTS_TABLE"), "the events table (default $EVENTS_TABLE)")
	transfersTable := fs.String("transfers-table", c.envDefault("TRANSFERS_TABLE"), "the transfer view's table (default $TRANSFERS_TABLE)")
	skippedQueue := fs.String("skipped-queue", c.envDefault("SKIPPED_QUEUE_URL"), "the fan-out's skipped-commits queue (default $SKIPPED_QUEUE_URL)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("sweep-transfers: unexpected arguments %q", fs.Args())
	}
	if err := required(fs, map[string]string{"events-table": "EVENTS_TABLE", "transfers-table": "TRANSFERS_TABLE", "skipped-queue": "SKIPPED_QUEUE_URL"},
		"events-table", "transfers-table", "skipped-queue"); err != nil {
		return err
	}
	if *olderThan < 0 || *page < 1 || *timeout <= 0 {
		return usagef("sweep-transfers: --older-than must not be negative, --page must be at least 1 and --timeout positive")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	cfg, err := defaultchain.Load(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The process manager as TransfersFunction builds it, from the same
	// variables (K and all), so the sweeper cannot drift from it.
	vars := map[string]string{env.EventsTable: *eventsTable}
	if k := c.envDefault(env.SnapshotEvery); k != "" {
		vars[env.SnapshotEvery] = k
	}
	v := wiring.Read(transfers.ID, transfers.Manifest, awsconfig.NewEnv(vars, log))
	manager := transfers.Manager(v, cfg)
	if err := v.Err(); err != nil {
		return fmt.Errorf("sweep-transfers: %w", err)
	}
	skipped := skippedLetters{q: sqs.NewFromConfig(cfg), url: *skippedQueue}
	rep, err := app.Sweep(ctx, manager, views.NewDynamoTransfers(dynamodb.NewFromConfig(cfg), *transfersTable), skipped, time.Now().Add(-*olderThan), *page)
	fmt.Fprintf(c.stdout, "sweep-transfers: %d pending, %d skipped by the fan-out, %d completed, %d failed, %d not moved\n",
		rep.Found, rep.Skipped, rep.Completed, rep.Failed, rep.Errors)
	return err
}

// skippedLetters lists the streams the fan-out's letters name, leaving the
// letters on the queue for the republish.
type skippedLetters struct {
	q   redrive.SQS
	url string
}

func (s skippedLetters) SkippedStreams(ctx context.Context) ([]eventstore.StreamID, error) {
	letters, err := redrive.ListSkipped(ctx, s.q, s.url, listVisibility)
	var out []eventstore.StreamID
	for _, l := range letters {
		if stream, ok := l.Stream(); ok {
			out = append(out, stream)
		}
	}
	return out, err
}
