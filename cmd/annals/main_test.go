package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/projectiontest"
	"annals/internal/kit/rebuild"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// runCLI runs one command line in-process with the given environment for
// flag defaults.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := cli{stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	code = c.run(t.Context(), args)
	return code, out.String(), errb.String()
}

// runOK runs a command line that must succeed, and logs what it printed.
func runOK(t *testing.T, env map[string]string, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, env, args...)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	return stdout, stderr
}

// checkContains fails the test for each of want that the output, called
// what, lacks.
func checkContains(t *testing.T, what, output string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(output, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func TestCommandLineErrorsAreUsageErrors(t *testing.T) {
	t.Parallel()
	tables := map[string]string{"EVENTS_TABLE": "e", "DEAD_LETTER_QUEUE_URL": "q", "SKIPPED_QUEUE_URL": "s"}
	for _, v := range views.All {
		tables[v.Env] = v.Name
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string // in stderr
	}{
		{nil, nil, "usage:"},
		{[]string{"rebiuld"}, nil, `unknown subcommand "rebiuld"`},
		{[]string{"rebuild"}, nil, "name the view to rebuild: " + strings.Join(views.Names(), "|")},
		{[]string{"rebuild"}, nil, "annals rebuild <" + strings.Join(views.Names(), "|") + "> [flags]"},
		{[]string{"rebuild", "balances"}, nil, `unknown view "balances"`},
		{[]string{"rebuild", "accounts"}, nil, "missing --events-table (or EVENTS_TABLE), --live-table (or ACCOUNTS_TABLE)"},
		{[]string{"rebuild", "history"}, map[string]string{"EVENTS_TABLE": "e"}, "missing --live-table (or HISTORY_TABLE)"},
		{[]string{"rebuild", "accounts", "--segments", "x"}, nil, `invalid value "x" for flag -segments`},
		{[]string{"rebuild", "accounts", "--nope"}, nil, "flag provided but not defined: -nope"},
		{[]string{"rebuild", "accounts", "--events-table", "e", "--live-table", "l", "--since", "2026-03-01T00:00:00Z"}, nil, "--since needs --resume"},
		{[]string{"rebuild", "accounts", "--events-table", "e", "--live-table", "l", "--resume"}, nil, "--resume needs --table"},
		{[]string{"rebuild", "accounts", "--events-table", "e", "--live-table", "l", "--table", "l"}, nil, "is the live table"},
		{[]string{"rebuild", "accounts", "--events-table", "e", "--live-table", "l", "--segments", "0"}, nil, "--segments 0"},
		{[]string{"rebuild", "accounts", "extra"}, map[string]string{"EVENTS_TABLE": "e", "ACCOUNTS_TABLE": "l"}, "unexpected arguments"},
		// Flags after the view's name count when flags come before it too.
		{[]string{"rebuild", "--events-table", "e", "--live-table", "l", "accounts", "--since", "2026-03-01T00:00:00Z"}, nil, "--since needs --resume"},
		{[]string{"rebuild", "--events-table", "e", "--live-table", "l", "accounts", "bogus"}, nil, `unexpected arguments ["bogus"]`},
		{[]string{"redrive", "--stream", "a#account#b", "--lift", "--timeout", "0s"}, tables, "--timeout must be positive"},
		{[]string{"redrive", "--from-queue", "q", "--visibility", "-1"}, tables, "--visibility from 0 to 43200"},
		{[]string{"sweep-transfers", "--timeout", "-1s"}, tables, "--timeout positive"},
		{[]string{"redrive"}, nil, "exactly one of --stream KEY, --from-queue URL or --skipped"},
		{[]string{"redrive", "--skipped", "--from-queue", "q"}, nil, "exactly one of"},
		{[]string{"redrive", "--skipped", "--lift"}, nil, "--lift and --view go with --stream or --from-queue"},
		{[]string{"redrive", "--skipped", "--republish", "--from", "2"}, nil, "--from and --to go with --stream"},
		{[]string{"redrive", "--skipped"}, nil, "missing --skipped-queue (or SKIPPED_QUEUE_URL)"},
		{[]string{"redrive", "--skipped", "--republish"}, map[string]string{"SKIPPED_QUEUE_URL": "q"}, "missing --events-table (or EVENTS_TABLE), --kinesis-stream (or STREAM_NAME)"},
		{[]string{"redrive", "--stream", "a#account#b", "--from-queue", "q"}, nil, "exactly one of"},
		{[]string{"redrive", "--stream", "a#account#b"}, nil, "--republish (onto the events stream), --lift"},
		{[]string{"redrive", "--stream", "a#account#b", "--lift", "--from", "3"}, nil, "--from and --to choose what --republish sends"},
		{[]string{"redrive", "--stream", "a#account#b", "--republish", "--from", "5", "--to", "2"}, nil, "--from 5 --to 2"},
		{[]string{"redrive", "--stream", "a#account", "--lift"}, nil, "is not tenant#category#id"},
		{[]string{"redrive", "--stream", "a#account#b", "--lift", "--view", "ledger"}, nil, `unknown --view "ledger"`},
		{[]string{"redrive", "--stream", "a#transfer#b", "--lift", "--view", "accounts"}, nil, `no view given (--view accounts) holds "transfer" streams`},
		{[]string{"redrive", "--from-queue", "q", "--lift"}, nil, "--republish and --lift go with --stream"},
		{[]string{"redrive", "--stream", "a#account#b", "--republish"}, nil, "missing --events-table (or EVENTS_TABLE), --kinesis-stream (or STREAM_NAME)"},
		{[]string{"redrive", "--stream", "a#account#b", "--lift", "--view", "history"}, map[string]string{"EVENTS_TABLE": "e"},
			"missing --dead-letter-queue (or DEAD_LETTER_QUEUE_URL), --history-table (or HISTORY_TABLE)"},
	} {
		code, _, stderr := runCLI(t, tc.env, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("annals %s: exit %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), code, stderr, exitUsage, tc.want)
		}
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"rebuild", "-h"}, {"redrive", "-h"}} {
		code, stdout, stderr := runCLI(t, nil, args...)
		if code != exitOK || !strings.Contains(stdout+stderr, "usage") {
			t.Errorf("annals %s: exit %d, output %q", strings.Join(args, " "), code, stdout+stderr)
		}
	}
}

// fixture is an events table with accounts, and the live account view the
// projector built from them.
type fixture struct {
	db               *dynamodb.Client
	events, accounts string
	store            *eventstore.Store
	streams          []eventstore.StreamID
	commits, nEvents int
}

func newFixture(t *testing.T, streams, deposits int) *fixture {
	t.Helper()
	db := awstest.DynamoDB(t)
	f := &fixture{db: db, events: awstest.Table(t, db, "EventsTable"), accounts: awstest.Table(t, db, "AccountsTable")}
	f.store = eventstore.New(dynamostore.New(db, f.events))
	log := slog.New(slog.DiscardHandler)
	dead := projection.NewDeadLetters(nil)
	h := projection.NewHandler(views.Decode, dead, log, views.NewAccounts(views.NewDynamoAccounts(db, f.accounts), f.store, dead, log))
	seq := 0
	for i := range streams {
		id := fmt.Sprintf("acc-%03d", i)
		st, _ := app.AccountStream("acme", id)
		head := eventstore.NewStream(st)
		evs := []account.Event{account.AccountOpened{AccountID: id, Owner: "o", Currency: "EUR"}}
		for d := range deposits {
			evs = append(evs, account.MoneyDeposited{Amount: 10, BalanceAfter: int64(10 * (d + 1))})
		}
		var records []events.KinesisEventRecord
		for _, e := range evs {
			news, _ := app.Encode([]account.Event{e})
			c, err := f.store.Append(t.Context(), head, news, eventstore.Metadata{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			head = c.Head
			seq++
			records = append(records, projectiontest.Record(t, seq, c.Events))
			f.commits++
			f.nEvents++
		}
		if failed := projectiontest.Failures(t, h, records...); len(failed) > 0 {
			t.Fatalf("projector: failed %v", failed)
		}
		f.streams = append(f.streams, st)
	}
	return f
}

// freshName is a table name for the CLI to create, deleted when the test
// ends.
func freshName(t *testing.T, db *dynamodb.Client) string {
	name := awstest.Name(t, "fresh")
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

// The CLI rebuilds the account view into a table it creates from
// template.yaml, prints its summary, verifies, and resumes.
func TestRebuildCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 40, 4)
	fresh := freshName(t, f.db)
	env := map[string]string{"EVENTS_TABLE": f.events, "ACCOUNTS_TABLE": f.accounts}
	stdout, stderr := runOK(t, env, "rebuild", "accounts", "--table", fresh, "--segments", "4", "--verify")
	checkContains(t, "summary", stdout,
		"rebuilt the accounts view into "+fresh,
		fmt.Sprintf("streams      %d\n", len(f.streams)),
		fmt.Sprintf("commits      %d\n", f.commits),
		fmt.Sprintf("events       %d\n", f.nEvents),
		"passes       2 (settled",
		"requests     ", "Scan ", "PutItem ", "per event",
		fmt.Sprintf("%d stream(s), %d equal, 0 lagging, 0 different", len(f.streams), len(f.streams)),
	)
	if !strings.Contains(stderr, "rebuild: pass") {
		t.Errorf("no progress line on stderr (not a terminal)")
	}

	// Again into the same table: everything is skipped, nothing written.
	code, stdout, _ := runCLI(t, env, "rebuild", "accounts", "--table", fresh, "--resume", "--segments", "4")
	if code != exitOK || strings.Contains(stdout, "PutItem") {
		t.Errorf("resume: exit %d, wrote to the view again:\n%s", code, stdout)
	}
	// A second create of the same table is refused with what to do.
	code, _, stderr = runCLI(t, env, "rebuild", "accounts", "--table", fresh)
	if code != exitFailed || !strings.Contains(stderr, "add --resume") {
		t.Errorf("rebuild into an existing table: exit %d, %q", code, stderr)
	}
}

// The CLI republishes a stream's range onto the events stream, and lifts.
func TestRedriveCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1, 3)
	kin := awstest.KinesisStream(t, "EventsStream")
	queue := awstest.Queue(t, "ProjectorDeadLetterQueue")
	env := map[string]string{"EVENTS_TABLE": f.events, "STREAM_NAME": kin, "ACCOUNTS_TABLE": f.accounts, "DEAD_LETTER_QUEUE_URL": queue}
	key := f.streams[0].Key()
	code, stdout, stderr := runCLI(t, env, "redrive", "--stream", key, "--republish", "--from", "2", "--to", "3", "--lift", "--view", "accounts")
	if code != exitOK {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "versions 2..3: 2 commit(s)") || !strings.Contains(stdout, "accounts: healed, at version 4") {
		t.Errorf("output %q", stdout)
	}
	if got := len(awstest.ReadKinesis(t, kin, 2)); got != 2 {
		t.Errorf("%d records on the stream, want 2", got)
	}

	// An empty queue: nothing to do, nothing kept.
	code, stdout, stderr = runCLI(t, env, "redrive", "--from-queue", queue, "--view", "accounts")
	if code != exitOK || !strings.Contains(stdout, "read 0 letter(s)") {
		t.Errorf("drain: exit %d, %s%s", code, stdout, stderr)
	}
	// A message that names no stream stays, and the exit code says so.
	if _, err := awstest.SQS(t).SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(`{"KinesisBatchInfo":{}}`)}); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCLI(t, env, "redrive", "--from-queue", queue, "--view", "accounts", "--visibility", "1")
	if code != exitFailed || !strings.Contains(stdout, "names no stream") {
		t.Errorf("drain with a batch letter: exit %d, %s", code, stdout)
	}
}

func TestProgressLine(t *testing.T) {
	t.Parallel()
	p := rebuild.Progress{Phase: "scan", Pass: 1, Scanned: 50, Estimate: 100, Streams: 3, Events: 20}
	if got := line(p, 2*time.Second, true); !strings.HasPrefix(got, "[###############...............] pass 1 scan: 50/~100 items, 3 streams, 20 events (10/s), 2s") {
		t.Errorf("bar %q", got)
	}
	p.Estimate = 0
	if got := line(p, 2*time.Second, false); got != "rebuild: pass 1 scan: 50 items scanned, 3 streams, 20 events (10/s), 2s" {
		t.Errorf("plain line %q", got)
	}
}
