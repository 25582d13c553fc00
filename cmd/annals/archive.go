package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/awsconfig/defaultchain"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/s3archive"
	"annals/internal/ledger/archival"
	"annals/internal/ledger/env"
	"annals/internal/ledger/wiring/eventsdb"
)

const archiveUsage = `usage:
  annals archive --closed-before T [--max N] [flags]
  annals archive restore STREAM [flags]
`

// archive runs the archive subcommands: archival of closed accounts, and
// restore.
func (c cli) archive(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "restore" {
		return c.archiveRestore(ctx, args[1:])
	}
	fs := c.flags("archive")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), archiveUsage+`
Moves the history of every account closed before T (its last event, the
close, recorded before T) out of the events table into one object per
account in the archive bucket, checked, leaving one item per account that
says where it is and keeps its final state (docs/eventstore.md,
"Archives"). It scans the table a page at a time and archives the closed
accounts on each page before reading the next: stopped anywhere, run it
again and it goes on (archived accounts are no longer in the scan, and an
account whose archival stopped half-way is finished). The audit trail and
time travel read archived accounts from their archive; commands to them
are refused (410 account-archived). restore brings one back.

flags:
`)
		fs.PrintDefaults()
	}
	before := fs.String("closed-before", "", "archive the accounts closed before this RFC 3339 time")
	limit := fs.Int("max", 0, "archive at most this many accounts in this run (0: all)")
	table, bucket := c.archiveFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("archive: unexpected %q", fs.Args())
	}
	if *before == "" {
		return usagef("archive: --closed-before is required")
	}
	t, err := time.Parse(time.RFC3339Nano, *before)
	if err != nil {
		return usagef("archive: --closed-before %q is not an RFC 3339 time", *before)
	}
	if *limit < 0 {
		return usagef("archive: --max %d is not a count", *limit)
	}
	if err := required(fs, map[string]string{"events-table": env.EventsTable, "bucket": env.ArchiveBucket}, "events-table", "bucket"); err != nil {
		return err
	}
	store, objects, err := c.archiveStore(ctx, *table, *bucket)
	if err != nil {
		return err
	}
	var scanned, archived, events atomic.Int64
	p := c.startStatus(func(elapsed time.Duration, bar bool) string {
		text := fmt.Sprintf("archive: %d items scanned, %d archived (%d events), %s",
			scanned.Load(), archived.Load(), events.Load(), elapsed.Round(time.Second))
		if bar {
			return fmt.Sprintf("%-100s", text)
		}
		return text
	})
	res, err := archival.Run(ctx, archival.Config{
		Store: store, Objects: objects, ClosedBefore: t, Max: *limit,
		Scanned: func(n int) { scanned.Add(int64(n)) },
		Archived: func(a eventstore.Archived) {
			archived.Add(1)
			events.Add(a.Last)
			fmt.Fprintf(c.stdout, "%s\t%d events\ts3://%s/%s\n", a.Stream, a.Last, a.Bucket, a.Key)
		},
	})
	p.stop()
	fmt.Fprintf(c.stderr, "archive: %d items scanned, %d closed before %s, %d archived (%d events), %d half-done archivals finished, %d failed\n",
		res.Scanned, res.Candidates, t.UTC().Format(time.RFC3339), res.Archived, res.Events, res.Finished, len(res.Failed))
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("archive: %d account(s) not archived (run it again to retry them): %w", len(res.Failed), err)
	}
	return nil
}

// archiveRestore brings one stream back from its archive.
func (c cli) archiveRestore(ctx context.Context, args []string) error {
	fs := c.flags("archive restore")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: annals archive restore STREAM [flags]

Writes the commits of the archived stream tenant#category#id back into the
events table from its archive, reads them back and compares them with it,
and then removes its archive marker: the account takes commands again, and
a later archive run may archive it again. Stopped anywhere, run it again.

flags:
`)
		fs.PrintDefaults()
	}
	table, bucket := c.archiveFlags(fs)
	positional, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return usagef("archive restore: name one stream, tenant#category#id (got %q)", positional)
	}
	stream, err := eventstore.ParseStreamKey(positional[0])
	if err != nil {
		return usagef("archive restore: %v", err)
	}
	if err := required(fs, map[string]string{"events-table": env.EventsTable, "bucket": env.ArchiveBucket}, "events-table", "bucket"); err != nil {
		return err
	}
	store, objects, err := c.archiveStore(ctx, *table, *bucket)
	if err != nil {
		return err
	}
	restored, err := store.Restore(ctx, stream, objects)
	if err != nil {
		return fmt.Errorf("archive restore: %w", err)
	}
	if !restored {
		fmt.Fprintf(c.stdout, "%s is not archived: nothing to restore\n", stream)
		return nil
	}
	fmt.Fprintf(c.stdout, "%s restored\n", stream)
	return nil
}

func (c cli) archiveFlags(fs interface {
	String(name, value, usage string) *string
}) (table, bucket *string) {
	table = fs.String("events-table", c.envDefault(env.EventsTable), "the events table (default $EVENTS_TABLE)")
	bucket = fs.String("bucket", c.envDefault(env.ArchiveBucket), "the archive bucket (default $"+env.ArchiveBucket+")")
	return table, bucket
}

// archiveStore is the events table read with the writers' K, and the
// archive bucket.
func (c cli) archiveStore(ctx context.Context, table, bucket string) (*eventstore.Store, *s3archive.Bucket, error) {
	snapshotEvery := eventstore.DefaultSnapshotEvery
	if k := c.envDefault(env.SnapshotEvery); k != "" {
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 {
			return nil, nil, usagef("%s=%q is not a positive number", env.SnapshotEvery, k)
		}
		snapshotEvery = n
	}
	cfg, err := defaultchain.Load(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("aws config: %w", err)
	}
	objects, err := s3archive.New(cfg, bucket)
	if err != nil {
		return nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store := eventsdb.Store(dynamodb.NewFromConfig(cfg), table, snapshotEvery, log, eventstore.WithArchive(objects))
	return store, objects, nil
}
