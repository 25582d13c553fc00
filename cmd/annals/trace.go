package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"annals/internal/kit/awsconfig/defaultchain"
	"annals/internal/kit/xray"
	"annals/internal/ledger/journey"
)

// trace prints the path of one command through the functions, from their
// log lines: the request, its commit, the fan-out to Kinesis, each view
// that stored the commit and each step of the process manager, each with
// its time and the time since the request. The lines come from the local
// stack's log file or, with --insights, from the functions' log groups.
func (c cli) trace(ctx context.Context, args []string) error {
	fs := c.flags("trace")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: annals trace CORRELATION_ID [--log FILE] [flags]
       annals trace CORRELATION_ID --insights [--log-groups G,...] [--since D] [flags]

Prints the path of the command that carried the correlation id (the
X-Correlation-Id every answer echoes): the request, its commit, the
fan-out to Kinesis, each view that stored the commit, each step of the
transfers process manager (a transfer's steps carry its request's id),
with the time of each and the time since the request.

Without --insights it reads the local stack's log file (make local writes
.local/annals.log). With --insights it prints the CloudWatch Logs Insights
query that finds the same lines in the functions' log groups (the stack's
output LogGroupNames) and, when AWS credentials are at hand and the groups
are named, runs it and prints the path.

flags:
`)
		fs.PrintDefaults()
	}
	logPath := fs.String("log", ".local/annals.log", "the local stack's log file")
	insights := fs.Bool("insights", false, "read the functions' log groups with CloudWatch Logs Insights instead of a file")
	groups := fs.String("log-groups", c.envDefault("LOG_GROUPS"), "with --insights: the functions' log groups, comma-separated (default $LOG_GROUPS; the stack's output LogGroupNames)")
	since := fs.Duration("since", 24*time.Hour, "with --insights: how far back to look")
	timeout := fs.Duration("timeout", 2*time.Minute, "with --insights: give up waiting for the query after this long")
	positional, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return usagef("trace: name one correlation id (got %q)", positional)
	}
	corr := positional[0]
	if !journey.CorrelationIDs.MatchString(corr) {
		return usagef("trace: %q is not a correlation id (1 to 128 letters, digits and ._:-)", corr)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !*insights && (set["log-groups"] || set["since"] || set["timeout"]) {
		return usagef("trace: --log-groups, --since and --timeout go with --insights")
	}
	if *insights && set["log"] {
		return usagef("trace: --log reads a file; --insights reads the log groups: give one")
	}
	if *since <= 0 || *timeout <= 0 {
		return usagef("trace: --since and --timeout must be positive")
	}

	var (
		lines []journey.Line
		read  string // what was read, for the summary
		// link is where to see a trace: its id, or the console's page.
		link = func(id string) string { return id }
	)
	if *insights {
		var (
			ran    bool
			region string
		)
		lines, ran, region, read, err = c.insights(ctx, corr, splitList(*groups), *since, *timeout)
		if err != nil || !ran {
			return err
		}
		link = func(id string) string { return xray.ConsoleURL(region, id) }
	} else {
		if lines, read, err = journey.ReadFile(*logPath, corr); err != nil {
			return fmt.Errorf("trace: %w (make local writes the functions' logs to .local/annals.log; --log names another file)", err)
		}
	}
	fmt.Fprintf(c.stderr, "trace: %s: %d line(s) name %s\n", read, len(lines), corr)
	if len(lines) == 0 {
		return fmt.Errorf("trace: no line names correlation id %s in %s", corr, read)
	}
	printPath(c.stdout, corr, lines, link)
	return nil
}

func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// printPath writes the command's path in time order, each step's time
// since the request, and the X-Ray traces its lines name.
func printPath(w io.Writer, corr string, lines []journey.Line, link func(traceID string) string) {
	j := journey.Assemble(corr, lines)
	last := j.Steps[len(j.Steps)-1].At
	fmt.Fprintf(w, "%s: %d step(s) over %s\n\n", corr, len(j.Steps), last.Sub(j.Start).Round(time.Millisecond))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSINCE\tSTEP\tFUNCTION\tWHAT")
	for _, s := range j.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.At.UTC().Format(timeFormat), since(s.At.Sub(j.Start)), s.Name, dash(s.Function), s.What)
	}
	tw.Flush()
	if len(j.Traces) > 0 {
		fmt.Fprintln(w, "\nX-Ray traces of its invocations:")
		for _, id := range j.Traces {
			fmt.Fprintln(w, "  "+link(id))
		}
	}
}

// since writes an offset from the request: +12ms, +1.234s.
func since(d time.Duration) string {
	d = d.Round(time.Millisecond)
	if d < time.Second && d > -time.Second {
		return "+" + strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return "+" + d.String()
}

// insightsQuery finds a correlation id's lines in the functions' groups.
func insightsQuery(corr string) string {
	return fmt.Sprintf("fields @timestamp, @log, @message\n| filter correlationId = %q\n| sort @timestamp asc\n| limit 10000", corr)
}

// insights prints the Logs Insights query for corr and, when it can (AWS
// credentials, log groups), runs it: ran says whether it did.
func (c cli) insights(ctx context.Context, corr string, groups []string, since, timeout time.Duration) (lines []journey.Line, ran bool, region, read string, err error) {
	query := insightsQuery(corr)
	groupArgs := "<the stack's output LogGroupNames, space-separated>"
	if len(groups) > 0 {
		groupArgs = strings.Join(groups, " ")
	}
	fmt.Fprintf(c.stdout, "CloudWatch Logs Insights, over the functions' log groups, the last %s:\n\n%s\n\n", since, query)
	fmt.Fprintf(c.stdout, "aws logs start-query --log-group-names %s \\\n  --start-time $(( $(date +%%s) - %d )) --end-time $(date +%%s) \\\n  --query-string '%s'\naws logs get-query-results --query-id <the queryId it answers>\n\n",
		groupArgs, int64(since.Seconds()), strings.ReplaceAll(query, "\n", " "))
	if len(groups) == 0 {
		fmt.Fprintln(c.stderr, "trace: no log groups (--log-groups or LOG_GROUPS, from the stack's output LogGroupNames): the query is not run")
		return nil, false, "", "", nil
	}
	cfg, err := defaultchain.Load(ctx)
	if err == nil && cfg.Credentials != nil {
		_, err = cfg.Credentials.Retrieve(ctx)
	}
	if err != nil || cfg.Credentials == nil {
		fmt.Fprintf(c.stderr, "trace: no AWS credentials (%v): the query is not run\n", err)
		return nil, false, "", "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	logs := cloudwatchlogs.NewFromConfig(cfg)
	end := time.Now()
	began := time.Now()
	started, err := logs.StartQuery(ctx, &cloudwatchlogs.StartQueryInput{
		LogGroupNames: groups, QueryString: aws.String(query),
		// Whole seconds: the end rounds up, or what was logged this
		// second would be left out.
		StartTime: aws.Int64(end.Add(-since).Unix()), EndTime: aws.Int64(end.Unix() + 1),
	})
	if err != nil {
		return nil, false, "", "", fmt.Errorf("trace: start the query: %w", err)
	}
	for {
		res, err := logs.GetQueryResults(ctx, &cloudwatchlogs.GetQueryResultsInput{QueryId: started.QueryId})
		if err != nil {
			return nil, false, "", "", fmt.Errorf("trace: query %s: %w", aws.ToString(started.QueryId), err)
		}
		switch res.Status {
		case cwtypes.QueryStatusComplete:
			for _, row := range res.Results {
				if l, ok := resultLine(row, corr); ok {
					lines = append(lines, l)
				}
			}
			scanned := 0.0
			if res.Statistics != nil {
				scanned = res.Statistics.BytesScanned
			}
			return lines, true, cfg.Region, fmt.Sprintf("query %s over %d group(s), %.1f MB scanned, in %s",
				aws.ToString(started.QueryId), len(groups), scanned/1e6, time.Since(began).Round(time.Millisecond)), nil
		case cwtypes.QueryStatusScheduled, cwtypes.QueryStatusRunning:
		default:
			return nil, false, "", "", fmt.Errorf("trace: query %s ended %s", aws.ToString(started.QueryId), res.Status)
		}
		select {
		case <-ctx.Done():
			return nil, false, "", "", fmt.Errorf("trace: query %s: %w", aws.ToString(started.QueryId), ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// resultLine reads one row of the query's results: the function's line
// (@message), from its group (@log), at @timestamp when the line has no
// time of its own.
func resultLine(row []cwtypes.ResultField, corr string) (journey.Line, bool) {
	var message, group, stamp string
	for _, f := range row {
		switch aws.ToString(f.Field) {
		case "@message":
			message = aws.ToString(f.Value)
		case "@log":
			group = aws.ToString(f.Value)
		case "@timestamp":
			stamp = aws.ToString(f.Value)
		}
	}
	// @log is account-id:group-name.
	if _, name, ok := strings.Cut(group, ":"); ok {
		group = name
	}
	l, ok := journey.Parse([]byte(message), group, corr)
	if ok && l.At.IsZero() {
		l.At = insightsTime(stamp)
	}
	return l, ok
}

// insightsTime reads @timestamp as Logs Insights writes it, or as Unix
// milliseconds.
func insightsTime(v string) time.Time {
	if t, err := time.Parse("2006-01-02 15:04:05.000", v); err == nil {
		return t
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}
