// Package demo is the README's walkthrough of the ledger over HTTP, as
// code: `make demo` runs it against a running stack and prints each step
// as the curl command a reader would type, and the end-to-end test of the
// local stack runs the very same steps, so the README cannot drift from
// what the system does.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Walkthrough talks to one stack.
type Walkthrough struct {
	URL string // the API's base URL
	// Out receives each step, request and answer.
	Out io.Writer
	// Converge bounds how long a read waits for the views to catch up.
	Converge time.Duration
	Client   *http.Client
}

// answer is one HTTP response.
type answer struct {
	status int
	body   []byte
	header http.Header
}

func (a answer) json(t any) error {
	if err := json.Unmarshal(a.body, t); err != nil {
		return fmt.Errorf("answer %s is not the JSON expected: %w", a.body, err)
	}
	return nil
}

// Run walks through the ledger: open, deposit, withdraw, the view, the
// owner's accounts, the history, the audit trail, the balance at a past
// time, a transfer to a second account, and a refused withdrawal. It fails at the first unexpected answer.
func (w *Walkthrough) Run(ctx context.Context) error {
	if w.Client == nil {
		w.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if w.Converge == 0 {
		w.Converge = 30 * time.Second
	}
	owner := fmt.Sprintf("alice-%d", time.Now().UnixNano()%1_000_000)

	w.step("Open an account for %s, in euros, with a 100.00 overdraft (amounts are in cents)", owner)
	a, err := w.call(ctx, "POST", "/accounts", fmt.Sprintf(`{"owner":%q,"currency":"EUR","overdraftLimit":10000}`, owner), http.StatusCreated)
	if err != nil {
		return err
	}
	var opened struct {
		AccountID string `json:"accountId"`
	}
	if err := a.json(&opened); err != nil {
		return err
	}
	id := opened.AccountID

	w.step("Deposit 250.00, then withdraw 70.00")
	if _, err := w.call(ctx, "POST", "/accounts/"+id+"/deposits", `{"amount":25000,"reference":"salary"}`, http.StatusOK); err != nil {
		return err
	}
	if _, err := w.call(ctx, "POST", "/accounts/"+id+"/withdrawals", `{"amount":7000,"reference":"groceries"}`, http.StatusOK); err != nil {
		return err
	}

	w.step("The account view, kept by the projector (read until it shows version 3)")
	var view struct {
		Balance int64 `json:"balance"`
		Version int64 `json:"version"`
	}
	if err := w.until(ctx, "/accounts/"+id, &view, func() bool { return view.Version >= 3 }); err != nil {
		return err
	}
	if view.Balance != 18000 {
		return fmt.Errorf("the view shows a balance of %d, want 18000", view.Balance)
	}

	w.step("%s's accounts", owner)
	var owned struct {
		Items []struct {
			AccountID string `json:"accountId"`
		} `json:"items"`
	}
	if err := w.until(ctx, "/accounts?owner="+url.QueryEscape(owner), &owned, func() bool { return len(owned.Items) == 1 }); err != nil {
		return err
	}

	w.step("The transaction history, newest first")
	var history struct {
		Items []struct {
			Kind         string `json:"kind"`
			Amount       int64  `json:"amount"`
			BalanceAfter int64  `json:"balanceAfter"`
		} `json:"items"`
	}
	if err := w.until(ctx, "/accounts/"+id+"/transactions", &history, func() bool { return len(history.Items) == 2 }); err != nil {
		return err
	}
	if h := history.Items; h[0].Kind != "withdrawal" || h[0].BalanceAfter != 18000 || h[1].Kind != "deposit" || h[1].Amount != 25000 {
		return fmt.Errorf("history %+v, want the withdrawal then the deposit", h)
	}

	w.step("The audit trail: every event with all its metadata")
	a, err = w.call(ctx, "GET", "/accounts/"+id+"/events", "", http.StatusOK)
	if err != nil {
		return err
	}
	var trail struct {
		Items []struct {
			Type       string `json:"type"`
			RecordedAt string `json:"recordedAt"`
		} `json:"items"`
	}
	if err := a.json(&trail); err != nil {
		return err
	}
	if len(trail.Items) != 3 || trail.Items[1].Type != "MoneyDeposited" {
		return fmt.Errorf("audit trail %+v, want the three events", trail.Items)
	}

	w.step("The balance as it was right after the deposit")
	a, err = w.call(ctx, "GET", "/accounts/"+id+"?at="+url.QueryEscape(trail.Items[1].RecordedAt), "", http.StatusOK)
	if err != nil {
		return err
	}
	if err := a.json(&view); err != nil {
		return err
	}
	if view.Balance != 25000 || view.Version != 2 {
		return fmt.Errorf("the balance then was %d at version %d, want 25000 at 2", view.Balance, view.Version)
	}

	w.step("A second account for %s, and a transfer of 50.00 into it", owner)
	a, err = w.call(ctx, "POST", "/accounts", fmt.Sprintf(`{"owner":%q,"currency":"EUR"}`, owner), http.StatusCreated)
	if err != nil {
		return err
	}
	var savings struct {
		AccountID string `json:"accountId"`
	}
	if err := a.json(&savings); err != nil {
		return err
	}
	a, err = w.call(ctx, "POST", "/transfers",
		fmt.Sprintf(`{"fromAccountId":%q,"toAccountId":%q,"amount":5000,"reference":"savings"}`, id, savings.AccountID), http.StatusAccepted)
	if err != nil {
		return err
	}
	var started struct {
		TransferID string `json:"transferId"`
		Status     string `json:"status"`
	}
	if err := a.json(&started); err != nil {
		return err
	}
	if started.Status != "pending" {
		return fmt.Errorf("a new transfer is %q, want pending", started.Status)
	}

	w.step("The transfer, driven by the process manager (read until it ends)")
	var moved struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	if err := w.until(ctx, "/transfers/"+started.TransferID, &moved, func() bool { return moved.Status != "pending" }); err != nil {
		return err
	}
	if moved.Status != "completed" {
		return fmt.Errorf("the transfer ended %s (%s), want completed", moved.Status, moved.Reason)
	}
	var to struct {
		Balance int64 `json:"balance"`
	}
	if err := w.until(ctx, "/accounts/"+savings.AccountID, &to, func() bool { return to.Balance == 5000 }); err != nil {
		return err
	}
	var legs struct {
		Items []struct {
			Kind       string `json:"kind"`
			TransferID string `json:"transferId"`
		} `json:"items"`
	}
	if err := w.until(ctx, "/accounts/"+id+"/transactions?limit=1", &legs, func() bool {
		return len(legs.Items) == 1 && legs.Items[0].TransferID == started.TransferID
	}); err != nil {
		return err
	}
	if legs.Items[0].Kind != "withdrawal" {
		return fmt.Errorf("the source's newest movement is a %s, want the transfer's withdrawal", legs.Items[0].Kind)
	}

	w.step("A withdrawal beyond the overdraft is refused, with a problem to read")
	if _, err := w.call(ctx, "POST", "/accounts/"+id+"/withdrawals", `{"amount":1000000,"reference":"car"}`, http.StatusUnprocessableEntity); err != nil {
		return err
	}
	fmt.Fprintf(w.Out, "\nEvery step answered as expected.\n")
	return nil
}

func (w *Walkthrough) step(format string, args ...any) {
	fmt.Fprintf(w.Out, "\n# "+format+"\n", args...)
}

// call sends one request, prints it as a curl command with its answer,
// and checks the status.
func (w *Walkthrough) call(ctx context.Context, method, path, body string, want int) (answer, error) {
	if body == "" {
		fmt.Fprintf(w.Out, "$ curl '%s%s'\n", w.URL, path)
	} else {
		fmt.Fprintf(w.Out, "$ curl -X %s '%s%s' -H 'content-type: application/json' -d '%s'\n", method, w.URL, path, body)
	}
	a, err := w.send(ctx, method, path, body)
	if err != nil {
		return a, err
	}
	fmt.Fprintf(w.Out, "%d %s\n", a.status, bytes.TrimSpace(a.body))
	if a.status != want {
		return a, fmt.Errorf("%s %s answered %d, want %d: %s", method, path, a.status, want, a.body)
	}
	return a, nil
}

func (w *Walkthrough) send(ctx context.Context, method, path, body string) (answer, error) {
	resp, b, err := Send(ctx, w.Client, w.URL, method, path, body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, body: b, header: resp.Header}, nil
}

// Send sends one request to the stack at base, with a JSON body when body
// is not empty, and reads the whole answer.
func Send(ctx context.Context, c *http.Client, base, method, path, body string) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w (is the stack running? `make local`)", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp, b, nil
}

// until reads path into v until done holds, polling with a deadline: the
// views are eventually consistent.
func (w *Walkthrough) until(ctx context.Context, path string, v any, done func() bool) error {
	deadline := time.Now().Add(w.Converge)
	for polls := 0; ; polls++ {
		a, err := w.send(ctx, "GET", path, "")
		if err != nil {
			return err
		}
		if a.status == http.StatusOK {
			if err := a.json(v); err != nil {
				return err
			}
			if done() {
				fmt.Fprintf(w.Out, "$ curl '%s%s'\n%d %s\n", w.URL, path, a.status, bytes.TrimSpace(a.body))
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s did not converge within %s (%d reads); last answer %d %s", path, w.Converge, polls+1, a.status, a.body)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
