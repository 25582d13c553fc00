package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// currency is every account's: transfers need one currency on both sides.
const currency = "EUR"

// huge is an amount no account of a soak can pay: a withdrawal or
// transfer of it is refused (or fails) for insufficient funds.
const huge = 1_000_000_000_000

// subject is one account the soak opened.
type subject struct {
	id        string
	owner     string
	overdraft int64
	open      *command
}

// mode is how a command is sent.
type mode int

const (
	unkeyed         mode = iota
	keyedOnce            // with an Idempotency-Key
	keyedTwice           // sent again once its first final answer came
	keyedConcurrent      // sent twice at once
)

func (m mode) String() string {
	return [...]string{"unkeyed", "keyed", "keyed twice in a row", "keyed twice at once"}[m]
}

// command is one command of the load and every answer it got.
type command struct {
	kind   string
	ref    string // the reference it carries; unique to the command
	from   string // the account of a deposit, withdrawal or close; a transfer's source
	to     string // a transfer's destination
	amount int64
	key    string
	mode   mode
	method string
	path   string
	body   []byte
	// owner and overdraft are an open's.
	owner     string
	overdraft int64

	mu      sync.Mutex
	answers []answer // in the order they came
	active  int      // requests in flight
	// applied is set by the checks for a command without a final answer
	// that the audit trail shows applied.
	applied bool
}

func (c *command) String() string {
	s := c.kind
	if c.ref != "" {
		s += " " + c.ref
	}
	if c.key != "" {
		s += " (key " + c.key + ", " + c.mode.String() + ")"
	}
	return s
}

// final returns the command's first final answer: for a keyed command one
// that ends it under the Idempotency-Key protocol, for an unkeyed one any
// 2xx or 4xx but 429 (API Gateway's refusal, which says nothing of the
// outcome).
func (c *command) final() (answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.answers {
		if c.key != "" && a.final() || c.key == "" && a.err == nil && a.status < 500 && a.status != http.StatusTooManyRequests {
			return a, true
		}
	}
	return answer{}, false
}

// corrs returns the correlation ids of every request the command sent.
func (c *command) corrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.answers))
	for i, a := range c.answers {
		out[i] = a.corr
	}
	return out
}

// attempt sends the command once and keeps the answer. It also says
// whether another request of the command was in flight at some time
// while this one was (a concurrent duplicate's 409 idempotency-in-flight
// is then expected).
func (r *run) attempt(ctx context.Context, c *command) (a answer, overlapped bool) {
	c.mu.Lock()
	c.active++
	overlapped = c.active > 1
	c.mu.Unlock()
	a = r.send(ctx, c.method, c.path, c.body, c.key)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active--
	overlapped = overlapped || c.active > 0
	for _, b := range c.answers {
		overlapped = overlapped || b.at.After(a.sent)
	}
	c.answers = append(c.answers, a)
	return a, overlapped
}

// exec sends a command as its mode says and checks its answers.
func (r *run) exec(ctx context.Context, c *command) {
	r.mu.Lock()
	r.commands = append(r.commands, c)
	r.mu.Unlock()
	switch c.mode {
	case unkeyed:
		a, _ := r.attempt(ctx, c)
		if _, ok := c.final(); ok {
			r.judge(c, a)
		} else if ctx.Err() == nil {
			r.allowed(a, c.String())
		}
	case keyedOnce:
		r.untilFinal(ctx, c)
	case keyedTwice:
		if r.untilFinal(ctx, c) {
			r.untilFinal(ctx, c)
		}
	case keyedConcurrent:
		var wg sync.WaitGroup
		wg.Go(func() { r.untilFinal(ctx, c) })
		wg.Go(func() { r.untilFinal(ctx, c) })
		wg.Wait()
	}
	if c.key != "" {
		r.checkReplays(c)
	}
}

// untilFinal sends a keyed command until it gets a final answer, for at
// most RetryFor, and reports whether it got one. A command left without
// one is sent again by the checks, once the load (and any fault) is over.
func (r *run) untilFinal(ctx context.Context, c *command) bool {
	deadline := time.Now().Add(r.cfg.RetryFor)
	for {
		a, overlapped := r.attempt(ctx, c)
		if ctx.Err() != nil {
			return false
		}
		if a.final() {
			r.judge(c, a)
			return true
		}
		wait := 100 * time.Millisecond
		switch {
		case a.problem == "idempotency-in-flight" && !overlapped:
			// No request of ours holds the key: whatever holds it is a
			// request that ended without letting it go, and will until
			// its lease runs out.
			r.violate(Violation{Check: "answer", Subject: c.String(),
				Detail: fmt.Sprintf("answered 409 idempotency-in-flight (Retry-After %s) while no other request with the key was in flight; answers so far: %s",
					a.retryAfter, c.history()), Correlation: c.corrs()})
			return false
		case a.problem == "idempotency-in-flight":
			wait = 20 * time.Millisecond // a duplicate of ours is running
		case a.problem == "conflict":
			wait = 10 * time.Millisecond
		default:
			r.allowed(a, c.String())
			if s, err := strconv.Atoi(a.retryAfter); err == nil && s > 0 {
				wait = min(time.Duration(s)*time.Second, time.Second)
			}
		}
		if time.Now().Add(wait).After(deadline) {
			return false
		}
		r.mu.Lock()
		r.retries++
		r.mu.Unlock()
		pause(ctx, wait)
	}
}

// history lists a command's answers so far.
func (c *command) history() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := ""
	for i, a := range c.answers {
		if i > 0 {
			s += ", "
		}
		s += a.what() + " [" + a.corr + "]"
	}
	return s
}

// judge checks a command's final answer against what its kind may answer.
func (r *run) judge(c *command, a answer) {
	ok := false
	switch c.kind {
	case KindOpen:
		var b struct {
			AccountID string `json:"accountId"`
			Version   int64  `json:"version"`
		}
		ok = a.status == http.StatusCreated && json.Unmarshal(a.body, &b) == nil && b.AccountID != "" && b.Version == 1 &&
			a.location == "/accounts/"+b.AccountID
	case KindDeposit:
		ok = a.status == http.StatusOK || a.status == http.StatusConflict && a.problem == "conflict"
	case KindWithdrawal:
		ok = a.status == http.StatusOK || a.status == http.StatusConflict && a.problem == "conflict" ||
			a.status == http.StatusUnprocessableEntity && a.problem == "insufficient-funds"
	case KindTransfer:
		var b struct {
			TransferID string `json:"transferId"`
			Status     string `json:"status"`
		}
		// A transfer into an account opened to be closed, sent again
		// once the close went through, finds it closed.
		ok = a.status == http.StatusAccepted && json.Unmarshal(a.body, &b) == nil && b.TransferID != "" && b.Status == "pending" ||
			a.status == http.StatusUnprocessableEntity && a.problem == "account-closed"
	case KindClose:
		ok = a.status == http.StatusOK || a.status == http.StatusUnprocessableEntity && (a.problem == "account-not-empty" || a.problem == "transfers-in-flight")
	}
	if !ok {
		r.violate(Violation{Check: "answer", Subject: c.String(), Detail: "unexpected final answer " + a.what() + ": " + clip(a.body), Correlation: []string{a.corr}})
	}
}

// checkReplays holds a keyed command's final answers to the protocol:
// every one the same, and at most one (the request that ran the command)
// not marked as a replay.
func (r *run) checkReplays(c *command) {
	c.mu.Lock()
	var finals []answer
	nonFinal := false
	for _, a := range c.answers {
		if a.final() {
			finals = append(finals, a)
		} else {
			nonFinal = true
		}
	}
	c.mu.Unlock()
	if len(finals) == 0 {
		return
	}
	fresh := 0
	for _, a := range finals {
		if !a.sameAs(finals[0]) {
			r.violate(Violation{Check: "replay", Subject: c.String(),
				Detail:      fmt.Sprintf("answered %s %s, then %s %s", finals[0].what(), clip(finals[0].body), a.what(), clip(a.body)),
				Correlation: []string{finals[0].corr, a.corr}})
		}
		if !a.replayed {
			fresh++
		}
	}
	switch {
	case fresh > 1:
		r.violate(Violation{Check: "replay", Subject: c.String(),
			Detail: fmt.Sprintf("%d final answers not marked Idempotent-Replayed: %s", fresh, c.history()), Correlation: c.corrs()})
	case fresh == 0 && !nonFinal:
		// Every request got a final answer, so the first ran the command:
		// it cannot be a replay of anything.
		r.violate(Violation{Check: "replay", Subject: c.String(),
			Detail: "every answer is marked Idempotent-Replayed, the first one too: " + c.history(), Correlation: c.corrs()})
	}
}

// open opens the shared accounts, some with an overdraft limit. An open
// left without a final answer (its key held, say) is reported, and
// another, under a key of its own, takes its place: one wrong answer must
// not hide what the whole run would find.
func (r *run) open(ctx context.Context) error {
	errs := make([]error, r.cfg.Accounts)
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.cfg.Clients)
	for i := range r.cfg.Accounts {
		overdraft := int64(0)
		if i%2 == 1 {
			overdraft = 20_000
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for try := range 3 {
				c := r.openCommand(fmt.Sprintf("soak-%s-%d-%d", r.id, i, try), overdraft, keyedOnce, fmt.Sprintf("open-%d-%d", i, try))
				r.exec(ctx, c)
				a, ok := c.final()
				switch {
				case ok && a.status == http.StatusCreated:
					r.addAccount(c)
					errs[i] = nil
					return
				case ok:
					errs[i] = fmt.Errorf("soak %s: could not open an account: %s", r.id, a.what())
					return // judged already: another try would be refused alike
				default:
					errs[i] = fmt.Errorf("soak %s: could not open an account: %s", r.id, c.history())
				}
				if ctx.Err() != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.progress("opened %d accounts", r.cfg.Accounts)
	return nil
}

func (r *run) openCommand(owner string, overdraft int64, m mode, key string) *command {
	body, _ := json.Marshal(map[string]any{"owner": owner, "currency": currency, "overdraftLimit": overdraft})
	c := &command{kind: KindOpen, mode: m, method: http.MethodPost, path: "/accounts", body: body, owner: owner, overdraft: overdraft}
	if m != unkeyed {
		c.key = "soak-" + r.id + "-" + key
	}
	return c
}

// addAccount records the account a 201 to c opened.
func (r *run) addAccount(c *command) *subject {
	a, _ := c.final()
	var b struct {
		AccountID string `json:"accountId"`
	}
	_ = json.Unmarshal(a.body, &b)
	acc := &subject{id: b.AccountID, owner: c.owner, overdraft: c.overdraft, open: c}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.accounts = append(r.accounts, acc)
	return acc
}

// load runs the clients until Duration or Commands ends it.
func (r *run) load(ctx context.Context) {
	r.mu.Lock()
	shared := append([]*subject(nil), r.accounts...)
	r.mu.Unlock()
	until := time.Now().Add(r.cfg.Duration)
	var budget atomic.Int64
	budget.Store(int64(r.cfg.Commands))
	if r.cfg.Commands <= 0 {
		budget.Store(1 << 62)
	}
	done := make(chan struct{})
	var ticker sync.WaitGroup
	ticker.Go(func() {
		t := time.NewTicker(r.cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				r.progressLoad()
			}
		}
	})
	var wg sync.WaitGroup
	for w := range r.cfg.Clients {
		wg.Go(func() {
			c := &client{run: r, n: w, shared: shared, rng: rand.New(rand.NewPCG(r.cfg.Seed, uint64(w))), seen: map[string]int64{}}
			for time.Now().Before(until) && ctx.Err() == nil && budget.Load() > 0 {
				budget.Add(-int64(c.next(ctx)))
			}
		})
	}
	wg.Wait()
	close(done)
	ticker.Wait()
	r.progressLoad()
}

func (r *run) progressLoad() {
	rep := r.report(0, 0)
	sent, accepted, refused, unknown := 0, 0, 0, 0
	for _, c := range rep.Kinds {
		sent, accepted, refused, unknown = sent+c.Sent, accepted+c.Accepted, refused+c.Refused, unknown+c.Unknown
	}
	elapsed := time.Since(r.start).Seconds()
	r.progress("%d commands (%.0f/s), %d accepted, %d refused, %d in flight or unknown; %d requests, %d replays; %d violations",
		sent, float64(sent)/elapsed, accepted, refused, unknown, rep.Requests, rep.Replays, len(rep.Violations))
}

// client is one of the concurrent users.
type client struct {
	run    *run
	n      int
	shared []*subject
	rng    *rand.Rand
	count  int
	// seen is the highest version this client's own commands reached per
	// account, for read-your-writes reads.
	seen      map[string]int64
	transfers []*command // accepted, for reads
}

func (c *client) ref() string {
	c.count++
	return fmt.Sprintf("soak-%s-%d-%d", c.run.id, c.n, c.count)
}

// pick returns an account, or two different ones.
func (c *client) pick() *subject { return c.shared[c.rng.IntN(len(c.shared))] }

func (c *client) pair() (*subject, *subject) {
	i := c.rng.IntN(len(c.shared))
	j := (i + 1 + c.rng.IntN(len(c.shared)-1)) % len(c.shared)
	return c.shared[i], c.shared[j]
}

// mode draws how a command is sent: half without a key; of the keyed
// ones, some sent twice in a row and some twice at once.
func (c *client) mode() mode {
	switch p := c.rng.IntN(100); {
	case p < 50:
		return unkeyed
	case p < 70:
		return keyedOnce
	case p < 85:
		return keyedTwice
	default:
		return keyedConcurrent
	}
}

func (c *client) amount(most int64) int64 {
	if c.rng.IntN(100) < 12 {
		return huge
	}
	return 1 + c.rng.Int64N(most)
}

// next sends the next command (or a few, done together) and returns how
// many it sent.
func (c *client) next(ctx context.Context) int {
	switch p := c.rng.IntN(100); {
	case p < 12:
		c.read(ctx)
		return 1
	case p < 14:
		c.closing(ctx)
		return 3
	case p < 52:
		c.send(ctx, c.move(KindDeposit, c.pick(), 1+c.rng.Int64N(10_000)))
	case p < 82:
		c.send(ctx, c.move(KindWithdrawal, c.pick(), c.amount(12_000)))
	case p < 88:
		// Two transfers crossing each other between the same accounts.
		a, b := c.pair()
		t1, t2 := c.transfer(a, b, c.amount(8_000)), c.transfer(b, a, c.amount(8_000))
		var wg sync.WaitGroup
		wg.Go(func() { c.run.exec(ctx, t1) })
		wg.Go(func() { c.run.exec(ctx, t2) })
		wg.Wait()
		c.note(t1)
		c.note(t2)
		return 2
	default:
		a, b := c.pair()
		c.send(ctx, c.transfer(a, b, c.amount(8_000)))
	}
	return 1
}

func (c *client) move(kind string, a *subject, amount int64) *command {
	ref := c.ref()
	body, _ := json.Marshal(map[string]any{"amount": amount, "reference": ref})
	path := "/accounts/" + a.id + "/deposits"
	if kind == KindWithdrawal {
		path = "/accounts/" + a.id + "/withdrawals"
	}
	return c.keyed(&command{kind: kind, ref: ref, from: a.id, amount: amount, method: http.MethodPost, path: path, body: body})
}

func (c *client) transfer(from, to *subject, amount int64) *command {
	ref := c.ref()
	body, _ := json.Marshal(map[string]any{"fromAccountId": from.id, "toAccountId": to.id, "amount": amount, "reference": ref})
	return c.keyed(&command{kind: KindTransfer, ref: ref, from: from.id, to: to.id, amount: amount, method: http.MethodPost, path: "/transfers", body: body})
}

func (c *client) keyed(cmd *command) *command {
	cmd.mode = c.mode()
	if cmd.mode != unkeyed {
		cmd.key = "soak-" + c.run.id + "-key-" + cmd.ref
	}
	return cmd
}

// send executes a command and notes what its answer tells.
func (c *client) send(ctx context.Context, cmd *command) {
	c.run.exec(ctx, cmd)
	c.note(cmd)
}

// note keeps what an accepted answer tells the client: the version its
// account reached, a transfer to read later.
func (c *client) note(cmd *command) {
	a, ok := cmd.final()
	if !ok || a.status >= 300 {
		return
	}
	switch cmd.kind {
	case KindTransfer:
		c.transfers = append(c.transfers, cmd)
	case KindDeposit, KindWithdrawal:
		var b struct {
			Version int64 `json:"version"`
		}
		if json.Unmarshal(a.body, &b) == nil {
			c.seen[cmd.from] = max(c.seen[cmd.from], b.Version)
		}
	}
}

// closing opens an account, starts a transfer into it and closes it at
// once: the close wins before the credit (the transfer fails and is
// refunded) or after it (the close is refused, the account is not empty).
func (c *client) closing(ctx context.Context) {
	ref := c.ref()
	open := c.run.openCommand(ref, 0, keyedOnce, "open-"+ref)
	c.run.exec(ctx, open)
	if a, ok := open.final(); !ok || a.status != http.StatusCreated {
		return // judged already
	}
	x := c.run.addAccount(open)
	c.send(ctx, c.transfer(c.pick(), x, 1+c.rng.Int64N(5_000)))
	cl := c.keyed(&command{kind: KindClose, ref: c.ref(), from: x.id, method: http.MethodPost, path: "/accounts/" + x.id + "/close"})
	c.send(ctx, cl)
}

// read reads an account with read-your-writes, or a transfer this client
// started, and checks the answer against what the client knows.
func (c *client) read(ctx context.Context) {
	r := c.run
	cmd := &command{kind: KindRead, method: http.MethodGet}
	var check func(a answer) string
	switch which := c.rng.IntN(3); {
	case which == 0 && len(c.transfers) > 0:
		t := c.transfers[c.rng.IntN(len(c.transfers))]
		fa, _ := t.final()
		var started struct {
			TransferID string `json:"transferId"`
		}
		_ = json.Unmarshal(fa.body, &started)
		cmd.path = "/transfers/" + started.TransferID
		check = func(a answer) string {
			var v transferView
			if err := json.Unmarshal(a.body, &v); err != nil {
				return err.Error()
			}
			if v.TransferID != started.TransferID || v.FromAccountID != t.from || v.ToAccountID != t.to || v.Amount != t.amount || v.Reference != t.ref ||
				v.Status != "pending" && v.Status != "completed" && v.Status != "failed" {
				return fmt.Sprintf("transfer %+v, want %s from %s to %s of %d, %s", v, started.TransferID, t.from, t.to, t.amount, t.ref)
			}
			return ""
		}
	case which == 1:
		acc := c.pick()
		cmd.path = "/accounts/" + acc.id + "/transactions?limit=5"
		check = func(a answer) string {
			var page struct {
				Items []transaction `json:"items"`
			}
			if err := json.Unmarshal(a.body, &page); err != nil {
				return err.Error()
			}
			for i, it := range page.Items {
				if it.Kind != "deposit" && it.Kind != "withdrawal" || i > 0 && it.Version >= page.Items[i-1].Version {
					return fmt.Sprintf("transactions %+v, want deposits and withdrawals, newest first", page.Items)
				}
			}
			return ""
		}
	default:
		acc := c.pick()
		least := max(c.seen[acc.id], 1)
		cmd.path = fmt.Sprintf("/accounts/%s?minVersion=%d", acc.id, least)
		check = func(a answer) string {
			var v accountView
			if err := json.Unmarshal(a.body, &v); err != nil {
				return err.Error()
			}
			if v.AccountID != acc.id || v.Version < least || v.Currency != currency {
				return fmt.Sprintf("account %+v, want %s at version %d or later", v, acc.id, least)
			}
			return ""
		}
	}
	r.mu.Lock()
	r.commands = append(r.commands, cmd)
	r.mu.Unlock()
	a, _ := r.attempt(ctx, cmd)
	if ctx.Err() != nil || !r.allowed(a, "GET "+cmd.path) || a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable {
		return
	}
	bad := ""
	if a.status != http.StatusOK {
		bad = "answered " + a.what() + ": " + clip(a.body)
	} else {
		bad = check(a)
	}
	if bad != "" {
		r.violate(Violation{Check: "answer", Subject: "GET " + cmd.path, Detail: bad, Correlation: []string{a.corr}})
	}
}

// accountView is GET /accounts/{id}'s answer.
type accountView struct {
	AccountID string `json:"accountId"`
	Owner     string `json:"owner"`
	Currency  string `json:"currency"`
	Balance   int64  `json:"balance"`
	Status    string `json:"status"`
	Version   int64  `json:"version"`
}

// transferView is GET /transfers/{id}'s answer.
type transferView struct {
	TransferID    string `json:"transferId"`
	FromAccountID string `json:"fromAccountId"`
	ToAccountID   string `json:"toAccountId"`
	Amount        int64  `json:"amount"`
	Currency      string `json:"currency"`
	Reference     string `json:"reference"`
	Status        string `json:"status"`
	Reason        string `json:"reason"`
	Refunded      bool   `json:"refunded"`
}
