// Package soak is the ledger's own load generator and checker. It talks to
// a running stack over its public HTTP API only, as many users would at
// once: it opens accounts, sends a random mix of deposits, withdrawals,
// transfers (some crossing each other), closes and reads on them from
// concurrent clients, with and without Idempotency-Key, replaying keyed
// requests in a row and concurrently. Then it checks what the system owes
// them: no 5xx, replays identical to the first answer, every accepted
// command exactly once in the audit trail and every refused one nowhere,
// every transfer settled with the legs its status says, views (the account,
// its transactions, its daily statements) equal to the ledger's own fold of
// the audit trail, and money neither lost nor made.
package soak

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what stack to soak, and how hard.
type Config struct {
	// URL is the API's base URL, e.g. http://127.0.0.1:3000.
	URL string
	// Client sends every request; one with a pool sized for Clients when
	// nil.
	Client *http.Client
	// Clients is the number of concurrent clients sending commands.
	Clients int
	// Accounts is the number of accounts every client shares.
	Accounts int
	// Duration is how long the load lasts.
	Duration time.Duration
	// Commands, when positive, ends the load after that many commands,
	// if Duration has not ended it first.
	Commands int
	// Seed chooses the mix; two runs with one seed send the same kinds of
	// commands in the same order per client (their timing differs).
	Seed uint64
	// Converge bounds the checks after the load: transfers settling and
	// views catching up are polled until then.
	Converge time.Duration
	// RetryFor bounds how long a keyed command is retried during the load
	// before it is left to the checks (with the same key).
	RetryFor time.Duration
	// Faults says that the stack's AWS calls fail on purpose during the
	// load: 503 throttled, unavailable and outcome-unknown answers (with
	// Retry-After) are then allowed, not violations.
	Faults bool
	// LoadDone, if set, runs once the load has ended and before the checks
	// (a test turns its injected faults off there).
	LoadDone func()
	// Progress receives a line every ProgressEvery while the load runs,
	// and one per phase after it; nil for none.
	Progress      io.Writer
	ProgressEvery time.Duration
}

func (c *Config) defaults() error {
	if c.URL == "" {
		return errors.New("soak: no URL to soak")
	}
	c.URL = strings.TrimRight(c.URL, "/")
	if c.Clients <= 0 || c.Accounts < 2 {
		return fmt.Errorf("soak: %d clients and %d accounts; want at least 1 client and 2 accounts", c.Clients, c.Accounts)
	}
	if c.Duration <= 0 && c.Commands <= 0 {
		return errors.New("soak: neither a duration nor a number of commands ends the load")
	}
	if c.Duration <= 0 {
		// Bounded by Commands; the duration is only a safety net.
		c.Duration = 24 * time.Hour
	}
	if c.Client == nil {
		c.Client = &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 4 * c.Clients, IdleConnTimeout: 30 * time.Second},
		}
	}
	if c.Converge <= 0 {
		c.Converge = 30 * time.Second
	}
	if c.RetryFor <= 0 {
		c.RetryFor = 10 * time.Second
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 5 * time.Second
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return nil
}

// Command kinds, as the report counts them.
const (
	KindOpen       = "open"
	KindDeposit    = "deposit"
	KindWithdrawal = "withdrawal"
	KindTransfer   = "transfer"
	KindClose      = "close"
	KindRead       = "read"
)

var kinds = []string{KindOpen, KindDeposit, KindWithdrawal, KindTransfer, KindClose, KindRead}

// Counts are one kind's commands by how they ended. A keyed command sent
// several times counts once, by its final answer.
type Counts struct {
	Sent     int
	Accepted int // a final 2xx
	Refused  int // a final 4xx
	// Unknown never got a final answer: an unkeyed command answered
	// with a 503, or a keyed one still not final by the
	// deadline. The audit trail says whether it applied.
	Unknown int
	// Applied counts the Unknown ones the audit trail shows applied.
	Applied int
}

// Report is what a run sent, what it got, and what it found wrong.
type Report struct {
	RunID string
	// Load is how long the load ran; Checks how long the checks took.
	Load, Checks time.Duration
	// Kinds counts commands per kind (KindOpen, ...).
	Kinds map[string]*Counts
	// Requests counts HTTP requests, retries and replays included, and
	// Statuses their answers by status code (0: no answer).
	Requests int
	Statuses map[int]int
	// Replays counts answers marked Idempotent-Replayed; InFlight the 409
	// idempotency-in-flight answers; Retries the keyed requests sent again
	// after an answer that was not final.
	Replays, InFlight, Retries int
	// Transfers counts transfers by how they ended: completed, failed
	// (with the reason, and refunded when the source was paid back) or
	// pending.
	Transfers map[string]int
	// Accounts is the number of accounts checked and Balance the sum of
	// their balances.
	Accounts int
	Balance  int64
	// Violations lists everything found wrong.
	Violations []Violation
}

// Violation is one thing the stack did wrong.
type Violation struct {
	// Check names the rule broken: answer, replay, audit, transfer, view,
	// history, statements, money.
	Check string
	// Subject names what is concerned: an account, a transfer, a
	// reference or a key.
	Subject string
	Detail  string
	// Correlation lists the correlation ids of the requests concerned,
	// to find them in the stack's logs.
	Correlation []string
}

func (v Violation) String() string {
	s := v.Check + ": " + v.Subject + ": " + v.Detail
	if len(v.Correlation) > 0 {
		s += " (correlation ids " + strings.Join(v.Correlation, ", ") + ")"
	}
	return s
}

// CommandsPerSecond is the rate of commands sent during the load.
func (r Report) CommandsPerSecond() float64 {
	if r.Load <= 0 {
		return 0
	}
	n := 0
	for _, c := range r.Kinds {
		n += c.Sent
	}
	return float64(n) / r.Load.Seconds()
}

// Summary is the report in a few lines.
func (r Report) Summary() string {
	var b strings.Builder
	sent := 0
	for _, c := range r.Kinds {
		sent += c.Sent
	}
	fmt.Fprintf(&b, "soak %s: %d commands in %s (%.1f/s), %d requests; checks took %s\n",
		r.RunID, sent, r.Load.Round(time.Millisecond), r.CommandsPerSecond(), r.Requests, r.Checks.Round(time.Millisecond))
	for _, k := range kinds {
		c := r.Kinds[k]
		if c == nil || c.Sent == 0 {
			continue
		}
		fmt.Fprintf(&b, "  %-10s %6d sent %6d accepted %6d refused %4d unknown (%d applied)\n", k, c.Sent, c.Accepted, c.Refused, c.Unknown, c.Applied)
	}
	fmt.Fprintf(&b, "  replays %d, idempotency-in-flight %d, keyed retries %d\n", r.Replays, r.InFlight, r.Retries)
	fmt.Fprintf(&b, "  answers:")
	for _, s := range slices.Sorted(maps.Keys(r.Statuses)) {
		fmt.Fprintf(&b, " %d×%d", r.Statuses[s], s)
	}
	fmt.Fprintf(&b, "\n  transfers:")
	for _, s := range slices.Sorted(maps.Keys(r.Transfers)) {
		fmt.Fprintf(&b, " %s %d;", s, r.Transfers[s])
	}
	fmt.Fprintf(&b, "\n  %d accounts holding %d in all\n", r.Accounts, r.Balance)
	if len(r.Violations) == 0 {
		b.WriteString("  no violations\n")
	} else {
		fmt.Fprintf(&b, "  %d violations\n", len(r.Violations))
	}
	return b.String()
}

// Run opens the accounts, runs the load, then the checks. It returns the
// report and, when anything was found wrong, an error listing every
// violation; an error with no violations in the report means the soak
// itself could not run (no stack at the URL, a cancelled context).
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.defaults(); err != nil {
		return Report{}, err
	}
	r := newRun(cfg)
	rep, err := r.run(ctx)
	if err != nil {
		return rep, err
	}
	if len(rep.Violations) > 0 {
		lines := make([]string, len(rep.Violations))
		for i, v := range rep.Violations {
			lines[i] = "  " + v.String()
		}
		return rep, fmt.Errorf("soak %s: %d violations:\n%s", rep.RunID, len(lines), strings.Join(lines, "\n"))
	}
	return rep, nil
}

// run is one soak's state, shared by its clients.
type run struct {
	cfg   Config
	id    string
	start time.Time
	// faults is on while the stack's AWS calls fail on purpose: from the
	// start when Config.Faults, until LoadDone has run.
	faults atomic.Bool

	mu         sync.Mutex
	accounts   []*subject // the shared ones first, then the ones opened to close
	commands   []*command
	requests   int
	statuses   map[int]int
	replays    int
	inFlight   int
	retries    int
	violations []Violation
	seq        int // correlation ids
}

func newRun(cfg Config) *run {
	var b [4]byte
	_, _ = rand.Read(b[:])
	r := &run{cfg: cfg, id: hex.EncodeToString(b[:]), statuses: map[int]int{}}
	r.faults.Store(cfg.Faults)
	return r
}

// violate notes a violation, once however many passes of the checks find
// it.
func (r *run) violate(v Violation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.violations {
		if w.Check == v.Check && w.Subject == v.Subject && w.Detail == v.Detail {
			return
		}
	}
	r.violations = append(r.violations, v)
}

func (r *run) run(ctx context.Context) (Report, error) {
	r.start = time.Now()
	// An account no one opened: any answer but a 5xx says the stack is
	// there and sound enough to start.
	if a := r.send(ctx, http.MethodGet, "/accounts/soak-probe-"+r.id, nil, ""); a.err != nil {
		return r.report(0, 0), fmt.Errorf("soak %s: is the stack running at %s? %w", r.id, r.cfg.URL, a.err)
	} else if !r.allowed(a, "GET /accounts/soak-probe-"+r.id) {
		return r.report(0, 0), fmt.Errorf("soak %s: the stack at %s answered %s to its first request", r.id, r.cfg.URL, a.what())
	}
	if err := r.open(ctx); err != nil {
		return r.report(0, 0), err
	}
	loadStart := time.Now()
	r.load(ctx)
	load := time.Since(loadStart)
	if r.cfg.LoadDone != nil {
		r.cfg.LoadDone()
		r.faults.Store(false)
	}
	if err := ctx.Err(); err != nil {
		return r.report(load, 0), fmt.Errorf("soak %s: %w", r.id, err)
	}
	checkStart := time.Now()
	ch := r.check(ctx)
	rep := r.report(load, time.Since(checkStart))
	rep.Transfers, rep.Accounts, rep.Balance = ch.transfers, ch.accounts, ch.balance
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("soak %s: %w", r.id, err)
	}
	return rep, nil
}

func (r *run) report(load, checks time.Duration) Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{
		RunID: r.id, Load: load, Checks: checks, Kinds: map[string]*Counts{},
		Requests: r.requests, Statuses: maps.Clone(r.statuses),
		Replays: r.replays, InFlight: r.inFlight, Retries: r.retries,
		Transfers: map[string]int{},
	}
	for _, k := range kinds {
		rep.Kinds[k] = &Counts{}
	}
	for _, c := range r.commands {
		n := rep.Kinds[c.kind]
		n.Sent++
		switch f, ok := c.final(); {
		case !ok:
			n.Unknown++
			if c.applied {
				n.Applied++
			}
		case f.status < 300:
			n.Accepted++
		default:
			n.Refused++
		}
	}
	rep.Violations = slices.Clone(r.violations)
	slices.SortStableFunc(rep.Violations, func(a, b Violation) int {
		return cmp.Or(cmp.Compare(a.Check, b.Check), cmp.Compare(a.Subject, b.Subject))
	})
	return rep
}

func (r *run) progress(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, "soak %s %5.1fs: "+format+"\n", append([]any{r.id, time.Since(r.start).Seconds()}, args...)...)
}
