package main

import (
	"log/slog"
	"strings"
	"testing"

	"annals/internal/kit/projection"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// quarantine list finds, in every view's table, the streams it holds
// quarantined, with where and why they stopped, ends with a summary, and
// says by its exit code whether there were any.
func TestQuarantineListCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3, 2)
	env := map[string]string{"EVENTS_TABLE": f.events, "ACCOUNTS_TABLE": f.accounts}
	tables := map[string]string{views.AccountsView: f.accounts}
	for _, v := range views.All {
		if _, ok := tables[v.Name]; !ok {
			tables[v.Name] = awstest.Table(t, f.db, v.Table)
			env[v.Env] = tables[v.Name]
		}
	}
	log := slog.New(slog.DiscardHandler)
	dead := projection.NewDeadLetters(&projection.LetterBox{})
	quarantine := func(view string, i int, reason string) {
		def, _ := views.Named(view)
		if err := def.New(f.db, tables[view], f.store, dead, log).Quarantine(t.Context(), f.streams[i], reason); err != nil {
			t.Fatal(err)
		}
	}
	quarantine(views.AccountsView, 1, "envelope does not decode: unexpected end of JSON input")
	quarantine(views.HistoryView, 2, "decode MoneyDeposited version 9: unknown schema")

	code, stdout, stderr := runCLI(t, env, "quarantine", "list")
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	if code != exitFailed || !strings.Contains(stderr, "2 stream(s) quarantined") || !strings.Contains(stderr, "--lift") {
		t.Errorf("exit %d, stderr %q; want 1 saying how many and how to lift", code, stderr)
	}
	checkContains(t, "the list", stdout,
		"VIEW", "STREAM", "STOPPED AT", "REASON",
		// The account view had applied 3 events of acc-001, and stops at the next.
		"accounts  "+f.streams[1].Key()+"  3        4",
		"unexpected end of JSON input",
		"history   "+f.streams[2].Key(),
		"unknown schema",
		"2 quarantined stream(s) (accounts 1, history 1, transfers 0, statements 0); ",
		" item(s) read, ",
	)
	if strings.Contains(stdout, f.streams[0].Key()) {
		t.Errorf("a healthy stream is listed:\n%s", stdout)
	}
	if !strings.Contains(stderr, "quarantine: 4 of 4 view(s) scanned") {
		t.Errorf("no summary of the scan on stderr: %q", stderr)
	}

	// One view, with nothing quarantined: a success.
	code, stdout, _ = runCLI(t, env, "quarantine", "list", "--view", "transfers")
	if code != exitOK || !strings.Contains(stdout, "0 quarantined stream(s) (transfers 0)") {
		t.Errorf("--view transfers: exit %d, %q", code, stdout)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"quarantine"}, env, "annals quarantine list"},
		{[]string{"quarantine", "list", "--view", "ledger"}, env, `unknown --view "ledger"`},
		{[]string{"quarantine", "list", "extra"}, env, "unexpected arguments"},
		{[]string{"quarantine", "list", "--view", "history"}, nil, "missing --history-table (or HISTORY_TABLE)"},
	} {
		code, _, stderr := runCLI(t, c.env, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("annals %s: exit %d, %q; want %d and %q", strings.Join(c.args, " "), code, stderr, exitUsage, c.want)
		}
	}
}
