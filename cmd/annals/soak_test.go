package main

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"annals/internal/ledger/functions"

	"annals/internal/localaws/awstest"
	"annals/internal/localaws/localstack"
)

// A short soak against the whole local stack: it reports its progress on
// stderr, its summary on stdout, and exits 0 when nothing is wrong.
func TestSoakCommand(t *testing.T) {
	t.Parallel()
	s, err := localstack.Start(t.Context(), localstack.Config{
		Functions: functions.Wires(),
		Template:  awstest.Template(t),
		AWS:       awstest.Config(t, "DYNAMODB"),
		Prefix:    awstest.Name(t, "local"),
		Addr:      "127.0.0.1:0",
		Tenant:    "local",
		Actor:     "local-user",
		Log:       slog.New(slog.DiscardHandler),
		Interval:  20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	stdout, stderr := runOK(t, nil, "soak", "--url", s.URL, "--clients", "2", "--accounts", "3", "--duration", "2s", "--seed", "7", "--converge", "40s")
	checkContains(t, "progress", stderr, "seed 7", "opened 3 accounts", "load over")
	checkContains(t, "summary", stdout, "commands in", "deposit ", "transfers:", "no violations")
}

// No stack at the URL is a failure that says where it looked, not a
// usage error; a wrong command line is one.
func TestSoakCommandErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := "http://" + ln.Addr().String()
	ln.Close()
	code, stdout, stderr := runCLI(t, nil, "soak", "--url", nowhere, "--duration", "1s")
	if code != exitFailed || !strings.Contains(stderr, "is the stack running at "+nowhere) || stdout != "" {
		t.Errorf("no stack: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"soak", "--url", "127.0.0.1:3000"}, `--url "127.0.0.1:3000" is not an http(s) URL`},
		{[]string{"soak", "--url", "ftp://h"}, "is not an http(s) URL"},
		{[]string{"soak", "--clients", "0"}, "--clients must be at least 1 and --accounts at least 2"},
		{[]string{"soak", "--accounts", "1"}, "--accounts at least 2"},
		{[]string{"soak", "--duration", "0s"}, "--duration and --converge must be positive"},
		{[]string{"soak", "--converge", "-1s"}, "--duration and --converge must be positive"},
		{[]string{"soak", "--seed", "x"}, `invalid value "x" for flag -seed`},
		{[]string{"soak", "now"}, `unexpected arguments ["now"]`},
	} {
		code, _, stderr := runCLI(t, nil, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("annals %s: exit %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), code, stderr, exitUsage, tc.want)
		}
	}
	if code, stdout, stderr := runCLI(t, nil, "soak", "-h"); code != exitOK || !strings.Contains(stdout+stderr, "annals soak [--url U]") {
		t.Errorf("soak -h: exit %d, %s", code, stdout+stderr)
	}
}
