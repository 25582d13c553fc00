package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/kit/awsconfig/defaultchain"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/s3archive"
	"annals/internal/kit/projection"
	"annals/internal/kit/rebuild"
	"annals/internal/kit/sqsqueue"
	"annals/internal/ledger/env"
	"annals/internal/ledger/views"
	"annals/internal/ledger/wiring/eventsdb"
	"annals/internal/localaws/samtemplate"
)

func viewNames() string { return strings.Join(views.Names(), "|") }

func (c cli) rebuild(ctx context.Context, args []string) error {
	var view string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		view, args = args[0], args[1:]
	}
	fs := c.flags("rebuild")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: annals rebuild <%s> [flags]\n\nflags:\n", viewNames())
		fs.PrintDefaults()
	}
	eventsTable := fs.String("events-table", c.envDefault("EVENTS_TABLE"), "the events table (default $EVENTS_TABLE)")
	live := fs.String("live-table", "", "the view's live table (default the variable its functions read it from, e.g. $ACCOUNTS_TABLE)")
	fresh := fs.String("table", "", "the fresh table to rebuild into (default <live-table>-rebuild-<UTC time>)")
	resume := fs.Bool("resume", false, "the fresh table exists: rebuild into it again (what it holds is skipped)")
	sinceFlag := fs.String("since", "", "with --resume: read only commits recorded from this RFC 3339 time on (less --margin), e.g. the \"caught up to\" of an earlier run")
	segments := fs.Int("segments", rebuild.DefaultSegments, "parallel scan segments and catch-up workers")
	margin := fs.Duration("margin", rebuild.DefaultMargin, "how far back each catch-up pass looks before the previous pass began, for clock skew")
	maxPasses := fs.Int("max-passes", rebuild.DefaultMaxPasses, "the most scan passes while writes keep coming")
	dlq := fs.String("dead-letter-queue", "", "send the dead letters of streams the rebuild quarantines to this queue URL (default: list them in the summary only)")
	verify := fs.Bool("verify", false, "afterwards, compare every stream of the fresh table with the live table and with the events")
	bucket := fs.String("bucket", c.envDefault(env.ArchiveBucket), "the archive bucket, from which archived accounts are read into the view (default $"+env.ArchiveBucket+")")
	templatePath := fs.String("template", "", "template.yaml holding the view's table definition (default: the one at the root of the module holding the working directory)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if view == "" && fs.NArg() > 0 {
		// The view's name after some flags: more flags may follow it.
		view = fs.Arg(0)
		if err := parse(fs, fs.Args()[1:]); err != nil {
			return err
		}
	}
	if fs.NArg() > 0 {
		return usagef("rebuild: unexpected arguments %q", fs.Args())
	}
	spec, ok := views.Named(view)
	if view == "" {
		return usagef("rebuild: name the view to rebuild: %s", viewNames())
	} else if !ok {
		return usagef("rebuild: unknown view %q (views: %s)", view, viewNames())
	}
	if *live == "" {
		*live = c.envDefault(spec.Env)
	}
	if err := required(fs, map[string]string{"events-table": "EVENTS_TABLE", "live-table": spec.Env}, "events-table", "live-table"); err != nil {
		return err
	}
	var since time.Time
	if *sinceFlag != "" {
		if !*resume {
			return usagef("rebuild: --since needs --resume: a new table holds nothing from before it")
		}
		var err error
		if since, err = time.Parse(time.RFC3339Nano, *sinceFlag); err != nil {
			return usagef("rebuild: --since %q is not an RFC 3339 time", *sinceFlag)
		}
	}
	if *resume && *fresh == "" {
		return usagef("rebuild: --resume needs --table, the fresh table to resume")
	}
	if *segments < 1 || *segments > 1000 {
		return usagef("rebuild: --segments %d is not between 1 and 1000", *segments)
	}
	if *maxPasses < 1 {
		return usagef("rebuild: --max-passes %d is below 1", *maxPasses)
	}
	if *fresh == "" {
		*fresh = *live + "-rebuild-" + time.Now().UTC().Format("20060102T150405Z")
	}
	if *fresh == *live {
		return usagef("rebuild: --table %s is the live table; a rebuild writes into a fresh one", *fresh)
	}

	cfg, err := defaultchain.Load(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	meter := rebuild.NewMeter()
	db := dynamodb.NewFromConfig(cfg, meter.Register)
	if *resume {
		if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: fresh}); err != nil {
			return fmt.Errorf("resume into %s: %w", *fresh, err)
		}
	} else if err := c.createTable(ctx, db, *templatePath, spec.Table, *fresh); err != nil {
		return err
	}

	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	var opts []eventstore.Option
	if *bucket != "" {
		objects, err := s3archive.New(cfg, *bucket)
		if err != nil {
			return err
		}
		opts = append(opts, eventstore.WithArchive(objects))
	}
	events := eventsdb.Store(db, *eventsTable, eventstore.DefaultSnapshotEvery, log, opts...)
	letters := &projection.LetterBox{}
	if *dlq != "" {
		letters.Next = sqsqueue.New(sqs.NewFromConfig(cfg), *dlq)
	}
	dead := projection.NewDeadLetters(letters)
	target := spec.New(db, *fresh, events, dead, log)
	if *resume {
		// The table holds most streams already: read each before writing.
		target.ReadFirst()
	}
	r := rebuild.New(rebuild.Config{
		Events: events, View: target, Category: spec.Category,
		Segments: *segments, Margin: *margin, MaxPasses: *maxPasses, Since: since,
	})
	bar := c.startProgress(r.Progress)
	res, err := r.Run(ctx)
	bar.stop()
	c.summary(view, *fresh, res, meter.Usage(), letters.Letters())
	if errors.Is(err, eventstore.ErrArchived) && *bucket == "" {
		return fmt.Errorf("rebuild the %s view into %s: %w (archived accounts are read from the archive bucket: --bucket or %s)", view, *fresh, err, env.ArchiveBucket)
	}
	if err != nil {
		return fmt.Errorf("rebuild the %s view into %s: %w", view, *fresh, err)
	}
	if !*verify {
		return nil
	}
	rep, err := spec.Verify(ctx, db, *fresh, *live, events, res.StreamKeys, *segments)
	if err != nil {
		return fmt.Errorf("verify %s against %s: %w", *fresh, *live, err)
	}
	c.report(*fresh, *live, rep)
	if !rep.OK() {
		return fmt.Errorf("verify %s against %s: %d stream(s) differ", *fresh, *live, len(rep.Differences))
	}
	return nil
}

// createTable creates the fresh table from the view's definition in
// template.yaml, so that it has the live table's keys and indexes, and
// waits until it is active.
func (c cli) createTable(ctx context.Context, db *dynamodb.Client, path, logicalID, name string) error {
	var tpl *samtemplate.Template
	var err error
	if path != "" {
		tpl, err = samtemplate.Load(path)
	} else {
		var wd string
		if wd, err = os.Getwd(); err == nil {
			tpl, err = samtemplate.LoadProject(wd)
		}
	}
	if err != nil {
		return fmt.Errorf("read the template for %s: %w", logicalID, err)
	}
	def, err := tpl.Table(logicalID, name)
	if err != nil {
		return fmt.Errorf("the template's %s: %w", logicalID, err)
	}
	if _, err := db.CreateTable(ctx, def.Create); err != nil {
		var inUse *types.ResourceInUseException
		if errors.As(err, &inUse) {
			return fmt.Errorf("create %s: it exists already; add --resume to rebuild into it: %w", name, err)
		}
		return fmt.Errorf("create %s from the template's %s: %w", name, logicalID, err)
	}
	fmt.Fprintf(c.stderr, "created %s from the template's %s; waiting for it to be active\n", name, logicalID)
	waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 5*time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 10*time.Minute); err != nil {
		return fmt.Errorf("table %s did not become active: %w", name, err)
	}
	return nil
}

func (c cli) summary(view, table string, res rebuild.Result, use rebuild.Usage, letters []projection.DeadLetter) {
	w := c.stdout
	fmt.Fprintf(w, "rebuilt the %s view into %s\n", view, table)
	fmt.Fprintf(w, "  streams      %d\n", res.Streams)
	fmt.Fprintf(w, "  commits      %d\n", res.Commits)
	fmt.Fprintf(w, "  events       %d\n", res.Events)
	fmt.Fprintf(w, "  items read   %d\n", res.Scanned)
	settled := "settled: the last pass found nothing new"
	if !res.Settled {
		settled = "not settled: writes kept coming until --max-passes"
	}
	fmt.Fprintf(w, "  passes       %d (%s)\n", res.Passes, settled)
	if !res.CaughtUpTo.IsZero() {
		fmt.Fprintf(w, "  caught up to %s (after the switch: --resume --since %s)\n",
			res.CaughtUpTo.UTC().Format(time.RFC3339), res.CaughtUpTo.UTC().Format(time.RFC3339))
	}
	rate := 0.0
	if s := res.Elapsed.Seconds(); s > 0 {
		rate = float64(res.Events) / s
	}
	fmt.Fprintf(w, "  time         %s (%.0f events/s)\n", res.Elapsed.Round(time.Millisecond), rate)
	total := use.Total()
	perEvent := ""
	if res.Events > 0 {
		perEvent = fmt.Sprintf("; %.2f per event", float64(total)/float64(res.Events))
	}
	fmt.Fprintf(w, "  requests     %d (%s%s)\n", total, byOperation(use.Requests), perEvent)
	if use.ReadUnits+use.WriteUnits > 0 {
		fmt.Fprintf(w, "  capacity     %.1f read units, %.1f write units (as DynamoDB reported them)\n", use.ReadUnits, use.WriteUnits)
	}
	slices.SortStableFunc(letters, func(x, y projection.DeadLetter) int { return strings.Compare(x.Stream, y.Stream) })
	if len(letters) > 0 {
		fmt.Fprintf(w, "  quarantined  %d stream(s); redrive each once the cause is fixed:\n", len(letters))
		for _, l := range letters {
			fmt.Fprintf(w, "    %s at %d: %s\n", l.Stream, l.Version, l.Reason)
		}
	}
}

func byOperation(m map[string]int) string {
	var ops []string
	for op, n := range m {
		ops = append(ops, fmt.Sprintf("%s %d", op, n))
	}
	slices.Sort(ops)
	return strings.Join(ops, ", ")
}

func (c cli) report(fresh, live string, rep rebuild.Report) {
	w := c.stdout
	fmt.Fprintf(w, "verified %s against %s and the events: %d stream(s), %d equal, %d lagging, %d different\n",
		fresh, live, rep.Streams, rep.Equal, len(rep.Lagging), len(rep.Differences))
	for _, l := range rep.Lagging {
		fmt.Fprintf(w, "  lagging  %s\n", l)
	}
	for _, d := range rep.Differences {
		fmt.Fprintf(w, "  DIFFERS  %s\n", d)
	}
}
