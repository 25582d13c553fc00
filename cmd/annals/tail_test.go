package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"annals/internal/kit/fanout"
	"annals/internal/localaws/awstest"
)

// cancelAfter is a writer that cancels a run once it has written n lines:
// an operator's Ctrl-C after seeing them.
type cancelAfter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	n      int
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.b.Write(p)
	if strings.Count(w.b.String(), "\n") >= w.n {
		w.cancel()
	}
	return n, err
}

func (w *cancelAfter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// tail prints a line per event of the records on the events stream, from
// where --from says, until --limit or until interrupted.
func TestTailCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2, 1) // two accounts, two commits each: four events
	kin := awstest.KinesisStream(t, "EventsStream")
	pub := fanout.New(fanout.Config{Kinesis: awstest.Kinesis(t), Stream: kin, Log: slog.New(slog.DiscardHandler)})
	publish := func() {
		t.Helper()
		for _, s := range f.streams {
			commits, err := f.store.ReadCommits(t.Context(), s, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pub.Publish(t.Context(), commits); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish()
	env := map[string]string{"STREAM_NAME": kin}

	stdout, stderr := runOK(t, env, "tail", "--from", "trim-horizon", "--limit", "3")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("--limit 3 printed %d lines", len(lines))
	}
	for _, l := range lines {
		fields := strings.Fields(l)
		if len(fields) != 5 || !strings.HasPrefix(fields[1], "acme#account#acc-") || !strings.HasPrefix(fields[2], "v") {
			t.Errorf("line %q is not: time, stream, version, type, correlation id", l)
		}
		if _, err := time.Parse(timeFormat, fields[0]); err != nil {
			t.Errorf("line %q: %v", l, err)
		}
	}
	if !strings.Contains(stderr, "tail: 3 event(s) in 3 record(s)") {
		t.Errorf("summary %q", stderr)
	}

	// From a time: only what arrived since, and it runs until interrupted.
	from := time.Now().UTC()
	publish()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &cancelAfter{n: 4, cancel: cancel}
	var errb bytes.Buffer
	c := cli{stdout: out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	if code := c.run(ctx, []string{"tail", "--from", from.Format(time.RFC3339Nano), "--poll", "200ms"}); code != exitOK {
		t.Fatalf("interrupted tail: exit %d, %s", code, errb.String())
	}
	got := out.String()
	for _, s := range f.streams {
		for _, want := range []string{s.Key() + "  v1  AccountOpened", s.Key() + "  v2  MoneyDeposited"} {
			if !strings.Contains(got, want) {
				t.Errorf("no %q in\n%s", want, got)
			}
		}
	}
	if n := strings.Count(got, "\n"); n != 4 {
		t.Errorf("%d lines from --from %s, want the 4 events published since:\n%s", n, from, got)
	}
	if !strings.Contains(errb.String(), "tail: 4 event(s)") {
		t.Errorf("summary %q", errb.String())
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"tail", "--from", "yesterday"}, "is not latest, trim-horizon or an RFC 3339 time"},
		{[]string{"tail", "--poll", "10ms"}, "--poll must be at least 200ms"},
		{[]string{"tail", "extra"}, "unexpected arguments"},
	} {
		code, _, stderr := runCLI(t, env, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("annals %s: exit %d, %q", strings.Join(c.args, " "), code, stderr)
		}
	}
	if code, _, stderr := runCLI(t, nil, "tail"); code != exitUsage || !strings.Contains(stderr, "--kinesis-stream (or STREAM_NAME)") {
		t.Errorf("without a stream: exit %d, %q", code, stderr)
	}
}
