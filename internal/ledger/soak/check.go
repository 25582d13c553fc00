package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"annals/internal/ledger/account"
)

// item is one event of an account's audit trail, decoded with the
// ledger's own codec: its data is in the shape of DataSchemaVersion (the
// current one), whatever SchemaVersion it was recorded at.
type item struct {
	EventID           string          `json:"eventId"`
	Version           int64           `json:"version"`
	Type              string          `json:"type"`
	SchemaVersion     int             `json:"schemaVersion"`
	DataSchemaVersion int             `json:"dataSchemaVersion"`
	CommandID         string          `json:"commandId"`
	CorrelationID     string          `json:"correlationId"`
	RecordedAt        time.Time       `json:"recordedAt"`
	Data              json.RawMessage `json:"data"`

	event   account.Event
	account *subject
}

// money is the movement an event records, if any.
func (it *item) money() (kind string, amount, after int64, ref, transferID string, ok bool) {
	switch e := it.event.(type) {
	case account.MoneyDeposited:
		return "deposit", e.Amount, e.BalanceAfter, e.Reference, e.TransferID, true
	case account.MoneyWithdrawn:
		return "withdrawal", e.Amount, e.BalanceAfter, e.Reference, e.TransferID, true
	}
	return "", 0, 0, "", "", false
}

// transferOf is the transfer an event belongs to, if any.
func (it *item) transferOf() string {
	switch e := it.event.(type) {
	case account.TransferOutBegun:
		return e.TransferID
	case account.TransferOutEnded:
		return e.TransferID
	}
	_, _, _, _, id, _ := it.money()
	return id
}

// trail is an account's whole audit trail and the ledger's fold of it.
type trail struct {
	account *subject
	items   []*item
	state   account.Account
}

func (t *trail) version() int64 { return int64(len(t.items)) }

// transferState is what the checks know of one transfer.
type transferState struct {
	id   string
	cmd  *command // the POST that started it; nil when only its legs were found
	view transferView
	// settled is set once the view says completed or failed.
	settled bool
}

// checked is what the checks measured, for the report.
type checked struct {
	transfers map[string]int
	accounts  int
	balance   int64
}

// check runs every check after the load, polling what depends on the
// pipeline until the Converge deadline.
func (r *run) check(ctx context.Context) checked {
	start := time.Now()
	deadline := start.Add(r.cfg.Converge)
	r.progress("load over; checking (converge within %s)", r.cfg.Converge)
	// A key some request left held stays held for its lease (a minute):
	// resending it longer would leave nothing of the deadline to the rest.
	r.resend(ctx, start.Add(r.cfg.Converge/4))

	r.mu.Lock()
	accounts := slices.Clone(r.accounts)
	commands := slices.Clone(r.commands)
	r.mu.Unlock()

	transfers := map[string]*transferState{}
	for _, c := range commands {
		if a, ok := c.final(); ok && c.kind == KindTransfer && a.status == http.StatusAccepted {
			var b struct {
				TransferID string `json:"transferId"`
			}
			_ = json.Unmarshal(a.body, &b)
			transfers[b.TransferID] = &transferState{id: b.TransferID, cmd: c}
		}
	}
	trails, err := r.snapshot(ctx, deadline, accounts, commands, transfers)
	if err != nil {
		// Without every trail nothing else can be checked.
		r.violate(Violation{Check: "audit", Subject: "audit trails", Detail: err.Error()})
		return checked{}
	}
	out := checked{transfers: map[string]int{}, accounts: len(trails)}
	for _, t := range trails {
		out.balance += t.state.Balance
	}
	for _, t := range transfers {
		status := t.view.Status
		if t.view.Reason != "" {
			status += " " + t.view.Reason
		}
		if t.view.Refunded {
			status += " refunded"
		}
		out.transfers[status]++
	}
	if ctx.Err() != nil {
		return out
	}
	r.progress("%d accounts and %d transfers read; checking the audit trails", len(trails), len(transfers))
	r.checkTrails(trails)
	r.checkCommands(trails, commands, transfers)
	r.checkTransfers(trails, transfers)
	r.checkMoney(trails, commands)
	r.progress("waiting for the views to equal the folds")
	r.checkViews(ctx, deadline, trails)
	r.checkUnknownOpens(ctx, commands)
	return out
}

// checkUnknownOpens looks for the accounts that opens without a final
// answer may have opened, by their owners (each open's own): at most one
// each, holding nothing but its opening, since no command knew of it. It
// runs last, when the owner index has caught up with everything else.
func (r *run) checkUnknownOpens(ctx context.Context, commands []*command) {
	for _, c := range commands {
		if _, ok := c.final(); ok || c.kind != KindOpen || ctx.Err() != nil {
			continue
		}
		var page struct {
			Items []accountView `json:"items"`
		}
		path := "/accounts?limit=100&owner=" + url.QueryEscape(c.owner)
		if _, err := r.get(ctx, path, c.String(), &page); err != nil {
			r.violate(Violation{Check: "audit", Subject: c.String(), Detail: err.Error(), Correlation: c.corrs()})
			continue
		}
		switch len(page.Items) {
		case 0:
			continue
		case 1:
		default:
			r.violate(Violation{Check: "audit", Subject: c.String(), Detail: fmt.Sprintf("had no final answer, and opened %d accounts: %+v", len(page.Items), page.Items), Correlation: c.corrs()})
			continue
		}
		c.applied = true
		acc := &subject{id: page.Items[0].AccountID, owner: c.owner, overdraft: c.overdraft, open: c}
		t, err := r.readTrail(ctx, acc)
		if err != nil {
			r.violate(Violation{Check: "audit", Subject: c.String(), Detail: err.Error(), Correlation: c.corrs()})
			continue
		}
		r.checkTrails([]*trail{t})
		if len(t.items) != 1 {
			r.violate(Violation{Check: "audit", Subject: "account " + acc.id, Detail: fmt.Sprintf("opened by %s, which had no final answer, it holds %d events", c, len(t.items)), Correlation: c.corrs()})
		}
	}
}

// resend sends every keyed command the load left without a final answer
// again, with its key, until it gets one or the deadline passes.
func (r *run) resend(ctx context.Context, deadline time.Time) {
	r.mu.Lock()
	var left []*command
	for _, c := range r.commands {
		if _, ok := c.final(); !ok && c.key != "" {
			left = append(left, c)
		}
	}
	r.mu.Unlock()
	if len(left) == 0 {
		return
	}
	r.progress("sending %d keyed commands left without a final answer again", len(left))
	parallel(r.cfg.Clients, left, func(c *command) {
		for ctx.Err() == nil && time.Now().Before(deadline) {
			a, _ := r.attempt(ctx, c)
			if a.final() {
				r.judge(c, a)
				r.checkReplays(c)
				if c.kind == KindOpen && a.status == http.StatusCreated {
					r.addAccount(c)
				}
				return
			}
			if a.problem != "idempotency-in-flight" && a.problem != "conflict" {
				r.allowed(a, c.String())
			}
			pause(ctx, time.Second)
		}
		r.violate(Violation{Check: "answer", Subject: c.String(),
			Detail: "no final answer, resent until the checks began: " + c.history(), Correlation: c.corrs()})
	})
}

// snapshot waits for every transfer to settle, then reads every audit
// trail until it has a consistent set: no account changed between two
// passes, and no transfer found in them is still in flight.
func (r *run) snapshot(ctx context.Context, deadline time.Time, accounts []*subject, commands []*command, transfers map[string]*transferState) ([]*trail, error) {
	byRef := map[string]*command{}
	for _, c := range commands {
		if c.ref != "" {
			byRef[c.ref] = c
		}
	}
	var trails []*trail
	for pass := 1; ; pass++ {
		r.settle(ctx, deadline, transfers)
		var err error
		if trails, err = r.readTrails(ctx, deadline, accounts); err != nil {
			return nil, err
		}
		// Transfers whose POST had no final answer show only by their
		// legs: follow them too.
		found := false
		for _, t := range trails {
			for _, it := range t.items {
				id := it.transferOf()
				if id == "" {
					continue
				}
				ts := transfers[id]
				if ts == nil {
					ts = &transferState{id: id}
					transfers[id] = ts
					found = true
				}
				if _, _, _, ref, _, ok := it.money(); ok && ts.cmd == nil {
					ts.cmd = byRef[ref]
				}
			}
		}
		inFlight := false
		for _, t := range trails {
			for id := range t.state.TransfersInFlight {
				if ts := transfers[id]; ts == nil || !ts.settled {
					inFlight = true
				}
			}
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return trails, nil
		}
		if found || inFlight {
			continue
		}
		if r.unchanged(ctx, trails) {
			return trails, nil
		}
	}
}

// settle reads every transfer not yet settled until it is, or the
// deadline passes. The process manager settles transfers about in the
// order they were requested, and their ids are in that order (UUIDv7): so
// each round reads them oldest first and stops at the first one still
// pending, and the reads leave the stack to the pipeline they wait for.
func (r *run) settle(ctx context.Context, deadline time.Time, transfers map[string]*transferState) {
	var open []*transferState
	for _, t := range transfers {
		if !t.settled {
			open = append(open, t)
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].id < open[j].id })
	for len(open) > 0 && ctx.Err() == nil {
		last := time.Now().After(deadline)
		var still []*transferState
		for i, t := range open {
			var v transferView
			a, err := r.get(ctx, "/transfers/"+url.PathEscape(t.id), "transfer "+t.id, &v)
			if err == nil {
				t.view = v
				t.settled = v.Status == "completed" || v.Status == "failed"
			}
			switch {
			case t.settled:
				continue
			case ctx.Err() != nil:
				return
			case last && err != nil:
				r.violate(Violation{Check: "transfer", Subject: "transfer " + t.id, Detail: err.Error(), Correlation: []string{a.corr}})
				continue
			case last:
				r.violate(Violation{Check: "transfer", Subject: "transfer " + t.id, Detail: "still " + v.Status + " at the deadline", Correlation: []string{a.corr}})
				continue
			}
			still = append(still, open[i:]...)
			break
		}
		open = still
		if len(open) > 0 {
			pause(ctx, pollEvery)
		}
	}
}

// readers bounds the concurrent reads of the checks, and pollEvery paces
// those that wait for the pipeline: the checks must not starve it.
const (
	readers   = 4
	pollEvery = 250 * time.Millisecond
)

// readTrails reads every account's audit trail, all pages.
func (r *run) readTrails(ctx context.Context, deadline time.Time, accounts []*subject) ([]*trail, error) {
	trails := make([]*trail, len(accounts))
	errs := make([]error, len(accounts))
	idx := make([]int, len(accounts))
	for i := range idx {
		idx[i] = i
	}
	parallel(readers, idx, func(i int) {
		// A read that fails (and is reported) is read again: one wrong
		// answer must not hide everything the trails would show.
		for {
			trails[i], errs[i] = r.readTrail(ctx, accounts[i])
			if errs[i] == nil || ctx.Err() != nil || time.Now().After(deadline) {
				return
			}
			pause(ctx, pollEvery)
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return trails, nil
}

func (r *run) readTrail(ctx context.Context, acc *subject) (*trail, error) {
	t := &trail{account: acc}
	path := "/accounts/" + url.PathEscape(acc.id) + "/events?limit=100"
	for {
		var page struct {
			Items      []*item `json:"items"`
			NextCursor *string `json:"nextCursor"`
		}
		if _, err := r.get(ctx, path, "account "+acc.id, &page); err != nil {
			return nil, fmt.Errorf("audit trail of %s: %w", acc.id, err)
		}
		for _, it := range page.Items {
			it.account = acc
			if want := t.version() + 1; it.Version != want {
				return nil, fmt.Errorf("audit trail of %s: version %d where %d was due", acc.id, it.Version, want)
			}
			e, err := account.DecodeEvent(it.Type, it.DataSchemaVersion, it.Data)
			if err != nil {
				r.violate(Violation{Check: "audit", Subject: "account " + acc.id,
					Detail: fmt.Sprintf("event %s at version %d does not decode: %v", it.EventID, it.Version, err), Correlation: []string{it.CorrelationID}})
			}
			it.event = e
			if e != nil {
				t.state = account.Evolve(t.state, e)
			}
			t.items = append(t.items, it)
		}
		if page.NextCursor == nil {
			return t, nil
		}
		path = "/accounts/" + url.PathEscape(acc.id) + "/events?limit=100&cursor=" + url.QueryEscape(*page.NextCursor)
	}
}

// unchanged reads every account once more past its trail's head: a set of
// trails none of which moved while the next pass read them all is the
// state at one moment.
func (r *run) unchanged(ctx context.Context, trails []*trail) bool {
	var mu sync.Mutex
	same := true
	parallel(readers, trails, func(t *trail) {
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		path := fmt.Sprintf("/accounts/%s/events?fromVersion=%d&limit=1", url.PathEscape(t.account.id), t.version()+1)
		_, err := r.get(ctx, path, "account "+t.account.id, &page)
		mu.Lock()
		defer mu.Unlock()
		same = same && err == nil && len(page.Items) == 0
	})
	return same
}

// checkTrails checks each trail on its own: it opens the account the soak
// opened, every balance follows from the one before, no withdrawal went
// below the overdraft limit, nothing follows a close, and no transfer out
// is left in flight.
func (r *run) checkTrails(trails []*trail) {
	for _, t := range trails {
		subject := "account " + t.account.id
		bad := func(it *item, format string, args ...any) {
			v := Violation{Check: "audit", Subject: subject, Detail: fmt.Sprintf(format, args...)}
			if it != nil {
				v.Detail = fmt.Sprintf("event %d (%s): %s", it.Version, it.Type, v.Detail)
				v.Correlation = []string{it.CorrelationID}
			}
			r.violate(v)
		}
		if len(t.items) == 0 {
			bad(nil, "no events")
			continue
		}
		opened, ok := t.items[0].event.(account.AccountOpened)
		// The soak's accounts are their own data subjects; the owner's
		// blind index is opaque, and only has to be there.
		want := account.AccountOpened{AccountID: t.account.id, DataSubject: t.account.id, Owner: t.account.owner, OwnerIndex: opened.OwnerIndex, Currency: currency, OverdraftLimit: t.account.overdraft}
		if !ok || opened != want || opened.OwnerIndex == "" {
			bad(t.items[0], "%+v, want %+v", t.items[0].event, want)
		}
		if !slices.Contains(t.account.open.corrs(), t.items[0].CorrelationID) {
			bad(t.items[0], "correlation id %s is none of the open's", t.items[0].CorrelationID)
		}
		balance, closed := int64(0), false
		for _, it := range t.items[1:] {
			if closed {
				bad(it, "after the account closed")
			}
			switch e := it.event.(type) {
			case account.AccountOpened:
				bad(it, "a second open")
			case account.AccountClosed:
				closed = true
			case account.MoneyDeposited:
				if e.BalanceAfter != balance+e.Amount {
					bad(it, "balance %d after depositing %d on %d", e.BalanceAfter, e.Amount, balance)
				}
				balance = e.BalanceAfter
			case account.MoneyWithdrawn:
				if e.BalanceAfter != balance-e.Amount {
					bad(it, "balance %d after withdrawing %d from %d", e.BalanceAfter, e.Amount, balance)
				}
				if e.BalanceAfter < -t.account.overdraft {
					bad(it, "balance %d below the overdraft limit %d", e.BalanceAfter, t.account.overdraft)
				}
				balance = e.BalanceAfter
			}
		}
		if len(t.state.TransfersInFlight) > 0 {
			bad(nil, "transfers still in flight at the end: %v", t.state.TransfersInFlight)
		}
	}
}

// checkCommands finds each command in the audit trails by its reference:
// an accepted one exactly once, on its account, as answered; a refused one
// nowhere; one without a final answer at most once.
func (r *run) checkCommands(trails []*trail, commands []*command, transfers map[string]*transferState) {
	byRef := map[string][]*item{}
	closes := map[string][]*item{}
	for _, t := range trails {
		for _, it := range t.items {
			if _, _, _, ref, _, ok := it.money(); ok {
				byRef[ref] = append(byRef[ref], it)
			}
			if _, ok := it.event.(account.AccountClosed); ok {
				closes[t.account.id] = append(closes[t.account.id], it)
			}
		}
	}
	known := map[string]bool{}
	for _, c := range commands {
		if c.ref == "" {
			continue
		}
		known[c.ref] = true
		final, ok := c.final()
		accepted, refused := ok && final.status < 300, ok && final.status >= 400
		bad := func(format string, args ...any) {
			r.violate(Violation{Check: "audit", Subject: c.String(), Detail: fmt.Sprintf(format, args...), Correlation: c.corrs()})
		}
		found := byRef[c.ref]
		switch c.kind {
		case KindDeposit, KindWithdrawal:
			switch {
			case accepted && len(found) != 1, refused && len(found) != 0, !ok && len(found) > 1:
				bad("answered %s, found %d times in the audit trails%s", describe(final, ok), len(found), where(found))
				continue
			}
			if len(found) == 0 {
				continue
			}
			c.applied = !ok
			it := found[0]
			kind, amount, after, _, transferID, _ := it.money()
			if it.account.id != c.from || kind != c.kind || amount != c.amount || transferID != "" || !slices.Contains(c.corrs(), it.CorrelationID) {
				bad("recorded as a %s of %d on %s (transfer %q, correlation id %s), want a %s of %d on %s",
					kind, amount, it.account.id, transferID, it.CorrelationID, c.kind, c.amount, c.from)
			}
			if accepted {
				var b struct {
					AccountID string `json:"accountId"`
					Version   int64  `json:"version"`
					Balance   int64  `json:"balance"`
				}
				if json.Unmarshal(final.body, &b) != nil || b.AccountID != c.from || b.Version != it.Version || b.Balance != after {
					bad("answered %s, recorded at version %d with balance %d", clip(final.body), it.Version, after)
				}
			}
		case KindTransfer:
			ids := map[string]bool{}
			for _, it := range found {
				_, _, _, _, id, _ := it.money()
				ids[id] = true
			}
			var started struct {
				TransferID string `json:"transferId"`
			}
			if accepted {
				_ = json.Unmarshal(final.body, &started)
			}
			switch {
			case refused && len(found) > 0:
				bad("refused with %s, yet moved money%s", final.what(), where(found))
			case accepted && len(ids) > 0 && (len(ids) > 1 || !ids[started.TransferID]):
				bad("answered transfer %s, its reference moved money for transfers %v%s", started.TransferID, keys(ids), where(found))
			case !ok && len(ids) > 1:
				bad("had no final answer, its reference moved money for %d transfers %v%s", len(ids), keys(ids), where(found))
			}
			if !ok && len(found) > 0 {
				c.applied = true
			}
		case KindClose:
			var mine []*item
			for _, it := range closes[c.from] {
				if slices.Contains(c.corrs(), it.CorrelationID) {
					mine = append(mine, it)
				}
			}
			if n := len(closes[c.from]); n > 1 || accepted && (n != 1 || len(mine) != 1) || refused && n != 0 {
				bad("answered %s; the account closed %d times, %d of them by this command", describe(final, ok), n, len(mine))
			}
			if !ok && len(mine) == 1 {
				c.applied = true
			}
		}
	}
	for ref, its := range byRef {
		if !known[ref] {
			r.violate(Violation{Check: "audit", Subject: "reference " + ref, Detail: "money moved under a reference no command carried" + where(its)})
		}
	}
}

func describe(a answer, ok bool) string {
	if !ok {
		return "nothing final"
	}
	return a.what()
}

// where lists where items are, for a violation.
func where(its []*item) string {
	if len(its) == 0 {
		return ""
	}
	parts := make([]string, len(its))
	for i, it := range its {
		parts[i] = fmt.Sprintf("%s v%d %s [%s]", it.account.id, it.Version, it.Type, it.CorrelationID)
	}
	return ": " + strings.Join(parts, "; ")
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkTransfers holds each transfer's legs to its status: a completed one
// took the amount from the source and paid it to the destination, once
// each; a failed one moved nothing, or took it and paid it back when the
// view says refunded.
func (r *run) checkTransfers(trails []*trail, transfers map[string]*transferState) {
	legs := map[string][]*item{}
	for _, t := range trails {
		for _, it := range t.items {
			if id := it.transferOf(); id != "" {
				legs[id] = append(legs[id], it)
			}
		}
	}
	for id, t := range transfers {
		subject := "transfer " + id
		var corrs []string
		if t.cmd != nil {
			subject += " (" + t.cmd.String() + ")"
			corrs = t.cmd.corrs()
		}
		bad := func(format string, args ...any) {
			r.violate(Violation{Check: "transfer", Subject: subject, Detail: fmt.Sprintf(format, args...), Correlation: corrs})
		}
		if !t.settled {
			continue // reported by settle
		}
		v := t.view
		if c := t.cmd; c != nil && (v.FromAccountID != c.from || v.ToAccountID != c.to || v.Amount != c.amount || v.Reference != c.ref || v.Currency != currency) {
			bad("reads %+v, want from %s to %s, %d %s, reference %s", v, c.from, c.to, c.amount, currency, c.ref)
		}
		// What each account must show of it: withdrawals, deposits,
		// transfers out begun and ended.
		type tally struct{ out, in, begun, ended int }
		want := map[string]tally{}
		switch {
		case v.Status == "completed":
			want[v.FromAccountID] = tally{out: 1, begun: 1, ended: 1}
			want[v.ToAccountID] = tally{in: 1}
		case v.Status == "failed" && v.Refunded:
			want[v.FromAccountID] = tally{out: 1, in: 1, begun: 1, ended: 1}
		}
		got := map[string]tally{}
		for _, it := range legs[id] {
			n := got[it.account.id]
			switch e := it.event.(type) {
			case account.MoneyWithdrawn:
				n.out++
				if e.Amount != v.Amount || e.Reference != v.Reference {
					bad("withdrew %d under %q, want %d under %q", e.Amount, e.Reference, v.Amount, v.Reference)
				}
			case account.MoneyDeposited:
				n.in++
				if e.Amount != v.Amount || e.Reference != v.Reference {
					bad("deposited %d under %q, want %d under %q", e.Amount, e.Reference, v.Amount, v.Reference)
				}
			case account.TransferOutBegun:
				n.begun++
			case account.TransferOutEnded:
				n.ended++
			}
			if t.cmd != nil && !slices.Contains(corrs, it.CorrelationID) {
				bad("leg %s v%d carries correlation id %s, none of the request's", it.account.id, it.Version, it.CorrelationID)
			}
			got[it.account.id] = n
		}
		for _, acc := range keys(accountSet(want, got)) {
			if want[acc] != got[acc] {
				bad("%s %s, reason %q, refunded %v: account %s shows %+v, want %+v%s",
					v.Status, id, v.Reason, v.Refunded, acc, got[acc], want[acc], where(legs[id]))
			}
		}
	}
	for id, its := range legs {
		if transfers[id] == nil {
			r.violate(Violation{Check: "transfer", Subject: "transfer " + id, Detail: "legs of a transfer never found" + where(its)})
		}
	}
}

func accountSet[T any](ms ...map[string]T) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			out[k] = true
		}
	}
	return out
}

// checkMoney checks that money was neither made nor lost: the balances add
// up to the deposits less the withdrawals that applied, transfers only
// moving money between accounts.
func (r *run) checkMoney(trails []*trail, commands []*command) {
	var want, got int64
	for _, c := range commands {
		final, ok := c.final()
		if !(ok && final.status < 300 || c.applied) {
			continue
		}
		switch c.kind {
		case KindDeposit:
			want += c.amount
		case KindWithdrawal:
			want -= c.amount
		}
	}
	for _, t := range trails {
		got += t.state.Balance
	}
	if got != want {
		r.violate(Violation{Check: "money", Subject: "all accounts",
			Detail: fmt.Sprintf("balances add up to %d; deposits less withdrawals applied are %d (%+d)", got, want, got-want)})
	}
}

// checkViews waits for every account's view and history to equal the
// fold of its audit trail.
func (r *run) checkViews(ctx context.Context, deadline time.Time, trails []*trail) {
	parallel(readers, trails, func(t *trail) {
		want := accountView{AccountID: t.account.id, Owner: t.account.owner, Currency: currency,
			Balance: t.state.Balance, Status: string(t.state.Status), Version: t.version()}
		path := "/accounts/" + url.PathEscape(t.account.id)
		r.until(ctx, deadline, "view", "account "+t.account.id, func() (string, string, bool) {
			var v accountView
			a, err := r.get(ctx, path, "account "+t.account.id, &v)
			switch {
			case err != nil && a.status == http.StatusNotFound:
				return "404 (the view has not the account yet)", a.corr, false
			case err != nil:
				return err.Error(), a.corr, false
			case v != want:
				// A view behind the fold may yet catch up; one at its
				// version and different never will.
				return fmt.Sprintf("view %+v, fold %+v", v, want), a.corr, v.Version >= want.Version
			}
			return "", "", false
		})
		r.until(ctx, deadline, "history", "account "+t.account.id, func() (string, string, bool) {
			got, corr, err := r.readHistory(ctx, t.account)
			if err != nil {
				return err.Error(), corr, false
			}
			want := history(t)
			caughtUp := len(got) > 0 && len(want) > 0 && got[0].Version >= want[0].Version || len(want) == 0
			return diffHistory(got, want), corr, caughtUp
		})
		if len(t.items) == 0 {
			return
		}
		days := statementsOf(t)
		path = "/accounts/" + url.PathEscape(t.account.id) + "/statements?from=" + days.From + "&to=" + days.To
		r.until(ctx, deadline, "statements", "account "+t.account.id, func() (string, string, bool) {
			var got statement
			a, err := r.get(ctx, path, "account "+t.account.id, &got)
			switch {
			case err != nil && a.status == http.StatusNotFound:
				return "404 (the view has not the account yet)", a.corr, false
			case err != nil:
				return err.Error(), a.corr, false
			}
			return diffStatement(got, days), a.corr, got.Version >= days.Version
		})
	})
}

// statement is GET /accounts/{id}/statements' answer, as the checks read
// it.
type statement struct {
	From           string         `json:"from"`
	To             string         `json:"to"`
	OpeningBalance int64          `json:"openingBalance"`
	ClosingBalance int64          `json:"closingBalance"`
	Version        int64          `json:"version"`
	Days           []statementDay `json:"days"`
}

type statementDay struct {
	Date           string `json:"date"`
	OpeningBalance int64  `json:"openingBalance"`
	Deposits       int64  `json:"deposits"`
	Withdrawals    int64  `json:"withdrawals"`
	TransfersIn    int64  `json:"transfersIn"`
	TransfersOut   int64  `json:"transfersOut"`
	Refunds        int64  `json:"refunds"`
	ClosingBalance int64  `json:"closingBalance"`
	Movements      int64  `json:"movements"`
	FirstVersion   int64  `json:"firstVersion"`
	LastVersion    int64  `json:"lastVersion"`
}

// statements is what an account's statements from its first day to its
// last must say.
type statements struct {
	From, To string
	Closing  int64
	Version  int64
	Days     []day
}

// day is what one day's statement must say. Credits (deposits, transfers
// in and refunds) and debits (withdrawals and transfers out) are checked
// as totals: how a credit is told a refund is the view's to say.
type day struct {
	Date                       string
	Opening, Closing           int64
	Credits, Debits, Movements int64
	First, Last                int64
}

// statementsOf reads them from the audit trail: a day per UTC day of
// recordedAt with money moved, each opening at the previous one's closing.
func statementsOf(t *trail) statements {
	date := func(it *item) string { return it.RecordedAt.UTC().Format(time.DateOnly) }
	s := statements{From: date(t.items[0]), To: date(t.items[len(t.items)-1]), Version: t.version(), Closing: t.state.Balance}
	var closing int64
	for _, it := range t.items {
		kind, amount, after, _, _, ok := it.money()
		if !ok {
			continue
		}
		if n := len(s.Days); n == 0 || s.Days[n-1].Date != date(it) {
			s.Days = append(s.Days, day{Date: date(it), Opening: closing, First: it.Version})
		}
		d := &s.Days[len(s.Days)-1]
		if kind == "deposit" {
			d.Credits += amount
		} else {
			d.Debits += amount
		}
		d.Closing, d.Last, closing = after, it.Version, after
		d.Movements++
	}
	return s
}

// diffStatement describes the first difference between the statements
// the route gave and those the trail says.
func diffStatement(got statement, want statements) string {
	if got.OpeningBalance != 0 || got.ClosingBalance != want.Closing || got.Version != want.Version || len(got.Days) != len(want.Days) {
		return fmt.Sprintf("statements from %s to %s open at %d and close at %d at version %d with %d days; want 0, %d, %d, %d days",
			want.From, want.To, got.OpeningBalance, got.ClosingBalance, got.Version, len(got.Days), want.Closing, want.Version, len(want.Days))
	}
	for i, g := range got.Days {
		d := day{
			Date: g.Date, Opening: g.OpeningBalance, Closing: g.ClosingBalance,
			Credits: g.Deposits + g.TransfersIn + g.Refunds, Debits: g.Withdrawals + g.TransfersOut,
			Movements: g.Movements, First: g.FirstVersion, Last: g.LastVersion,
		}
		if d != want.Days[i] {
			return fmt.Sprintf("day %+v, want %+v", d, want.Days[i])
		}
	}
	return ""
}

// until polls f until it reports nothing wrong, and reports what it
// found as a violation once f says no wait can change it, or at the
// deadline.
func (r *run) until(ctx context.Context, deadline time.Time, check, subject string, f func() (wrong, corr string, final bool)) {
	for {
		wrong, corr, final := f()
		switch {
		case wrong == "" || ctx.Err() != nil:
			return
		case final:
			r.violate(Violation{Check: check, Subject: subject, Detail: wrong, Correlation: []string{corr}})
			return
		case time.Now().After(deadline):
			r.violate(Violation{Check: check, Subject: subject, Detail: "at the deadline: " + wrong, Correlation: []string{corr}})
			return
		}
		pause(ctx, pollEvery)
	}
}

// transaction is one entry of GET /accounts/{id}/transactions.
type transaction struct {
	EventID      string `json:"eventId"`
	Version      int64  `json:"version"`
	Kind         string `json:"kind"`
	Amount       int64  `json:"amount"`
	BalanceAfter int64  `json:"balanceAfter"`
	Reference    string `json:"reference"`
	TransferID   string `json:"transferId"`
}

func (r *run) readHistory(ctx context.Context, acc *subject) ([]transaction, string, error) {
	var out []transaction
	path := "/accounts/" + url.PathEscape(acc.id) + "/transactions?limit=100"
	for {
		var page struct {
			Items      []transaction `json:"items"`
			NextCursor *string       `json:"nextCursor"`
		}
		a, err := r.get(ctx, path, "account "+acc.id, &page)
		if err != nil {
			return nil, a.corr, err
		}
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out, a.corr, nil
		}
		path = "/accounts/" + url.PathEscape(acc.id) + "/transactions?limit=100&cursor=" + url.QueryEscape(*page.NextCursor)
	}
}

// history is what the transactions of an account must list: the
// deposits and withdrawals of its audit trail, newest first.
func history(t *trail) []transaction {
	var out []transaction
	for i := len(t.items) - 1; i >= 0; i-- {
		it := t.items[i]
		if kind, amount, after, ref, transferID, ok := it.money(); ok {
			out = append(out, transaction{EventID: it.EventID, Version: it.Version, Kind: kind, Amount: amount, BalanceAfter: after, Reference: ref, TransferID: transferID})
		}
	}
	return out
}

// diffHistory describes the first difference between two histories.
func diffHistory(got, want []transaction) string {
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			return fmt.Sprintf("%d transactions, want %d; the first missing is %+v", len(got), len(want), want[i])
		case i >= len(want):
			return fmt.Sprintf("%d transactions, want %d; the first extra is %+v", len(got), len(want), got[i])
		case got[i] != want[i]:
			return fmt.Sprintf("transaction %d is %+v, want %+v", i, got[i], want[i])
		}
	}
	return ""
}

// parallel runs f on every item with at most n at once.
func parallel[T any](n int, items []T, f func(T)) {
	sem := make(chan struct{}, max(n, 1))
	var wg sync.WaitGroup
	for _, it := range items {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(it)
		})
	}
	wg.Wait()
}
