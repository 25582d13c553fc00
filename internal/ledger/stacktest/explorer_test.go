package stacktest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"annals/internal/kit/projection"
	"annals/internal/kit/projection/viewtable"
	"annals/internal/ledger/demo"
	"annals/internal/ledger/explorer"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// chromium is where Debian's chromium package puts the browser; `make
// tools` installs it.
const chromium = "/usr/bin/chromium"

// screenshotsEnv names a folder to keep the page's screenshot in (`make
// screenshots` sets it to docs/); without it the screenshot goes to the
// test's temporary folder.
const screenshotsEnv = "ANNALS_SCREENSHOTS"

// The explorer in a real browser, against the whole local stack: an
// account opened, paid into and out of, and a transfer to a second one,
// all over the HTTP API; then the page lists the owner's accounts, shows
// the account's timeline with every event's metadata as the API has it,
// travels back through its versions with the slider (each one read from
// the events table), shows the transfer's steps on both accounts and the
// journey of the command behind an event, and follows the pipeline's
// consumers and a quarantine live.
func TestExplorerInABrowser(t *testing.T) {
	// Not in parallel with the soaks, which share its moto (see
	// TestFuzzTheWholeAPI).
	s, _ := startStack(t)
	page, exceptions := newBrowser(t)

	// The story, over the API.
	a := openWith(t, s.URL, `{"owner":"alice","currency":"EUR","overdraftLimit":10000}`)
	command(t, s.URL, "/accounts/"+a+"/deposits", `{"amount":250000,"reference":"salary"}`, http.StatusOK)
	command(t, s.URL, "/accounts/"+a+"/withdrawals", `{"amount":7000,"reference":"groceries"}`, http.StatusOK)
	command(t, s.URL, "/accounts/"+a+"/withdrawals", `{"amount":12050,"reference":"rent share"}`, http.StatusOK)
	b := openWith(t, s.URL, `{"owner":"alice","currency":"EUR"}`)
	var started struct {
		TransferID string `json:"transferId"`
	}
	decode(t, command(t, s.URL, "/transfers", fmt.Sprintf(`{"fromAccountId":%q,"toAccountId":%q,"amount":50000,"reference":"savings"}`, a, b), http.StatusAccepted), &started)
	tid := started.TransferID
	until(t, "the transfer completes", func() bool {
		var tr struct{ Status string }
		decode(t, get(t, s.URL, "/transfers/"+tid), &tr)
		return tr.Status == "completed"
	})
	command(t, s.URL, "/accounts/"+a+"/deposits", `{"amount":3000,"reference":"refund"}`, http.StatusOK)
	until(t, "the views show both accounts at their last version", func() bool {
		return viewVersion(t, s.URL, a) == 8 && viewVersion(t, s.URL, b) == 2 && historyLen(t, s.URL, a) == 5
	})
	var trail struct {
		Items []apiEvent `json:"items"`
	}
	decode(t, get(t, s.URL, "/accounts/"+a+"/events"), &trail)
	if len(trail.Items) != 8 {
		t.Fatalf("the API has %d events of the account, want 8", len(trail.Items))
	}

	// The owner's accounts; the owner is remembered.
	do(t, page,
		chromedp.Navigate(s.URL+explorer.Path),
		chromedp.WaitVisible(chromedp.CSS("#owner-input")),
		chromedp.SendKeys(chromedp.CSS("#owner-input"), "alice"),
		chromedp.Click(chromedp.CSS("#owner-form button")),
	)
	waitFor(t, page, fmt.Sprintf(`document.querySelectorAll('#accounts tr[data-account="%s"], #accounts tr[data-account="%s"]').length === 2`, a, b))
	listed := read[[]string](t, page, `[...document.querySelectorAll('#accounts tbody tr')].map(tr => tr.querySelector('.balance').textContent)`)
	if want := []string{"1,839.50", "500.00"}; !(slices.Equal(listed, want) || slices.Equal(listed, []string{want[1], want[0]})) {
		t.Errorf("the accounts list shows balances %q, want %q", listed, want)
	}
	if chips := read[[]string](t, page, `[...document.querySelectorAll('#recent-owners .chip')].map(c => c.textContent)`); !slices.Equal(chips, []string{"alice"}) {
		t.Errorf("recent owners %q, want [alice]", chips)
	}

	// The account: its timeline is the audit trail, metadata and all.
	do(t, page, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#accounts tr[data-account="%s"] button`, a))))
	waitFor(t, page, `document.querySelectorAll('#timeline > li').length === 8 && document.querySelector('#travel-state').dataset.version === '8'`)
	shown := read[[]shownEvent](t, page, `[...document.querySelectorAll('#timeline > li')].map(li => {
		const m = (c) => li.querySelector('.m-' + c).textContent;
		return {version: +li.dataset.version, type: li.querySelector('.type').textContent, what: li.querySelector('.what').textContent,
			command: m('command'), correlation: m('correlation'), causation: m('causation'), actor: m('actor'),
			recorded: m('recorded'), occurred: m('occurred'), schema: m('schema'), event: m('event')};
	})`)
	for i, e := range trail.Items {
		want := shownEvent{
			Version: e.Version, Type: e.Type, Command: e.CommandID, Correlation: e.CorrelationID, Causation: orDash(e.CausationID),
			Actor: e.Actor, Recorded: millis(t, e.RecordedAt), Occurred: millis(t, e.OccurredAt), Schema: fmt.Sprintf("v%d", e.SchemaVersion), Event: e.EventID,
		}
		got := shown[i]
		got.What = ""
		if got != want {
			t.Errorf("timeline row %d shows\n%+v\nwant\n%+v", i, got, want)
		}
	}
	for i, want := range map[int]string{1: "+2,500.00 · salary · balance 2,500.00", 3: "−120.50 · rent share · balance 2,309.50", 5: "−500.00 · savings · balance 1,809.50"} {
		if shown[i].What != want {
			t.Errorf("timeline row %d says %q, want %q", i, shown[i].What, want)
		}
	}
	for i, actor := range []string{"local-user", "local-user", "local-user", "local-user", "transfers", "transfers", "transfers", "local-user"} {
		if shown[i].Actor != actor {
			t.Errorf("timeline row %d: actor %q, want %q", i, shown[i].Actor, actor)
		}
	}
	if got := read[string](t, page, `document.querySelector('#account-summary .balance').textContent`); got != "1,839.50" {
		t.Errorf("the account shows balance %q, want 1,839.50", got)
	}
	if got := read[int](t, page, `document.querySelectorAll('#chart circle.pt').length`); got != 6 {
		t.Errorf("the chart has %d points, want 6 (the opening and five movements)", got)
	}

	// Time travel: the slider, moved by its keys, reads each version from
	// the events table.
	do(t, page, chromedp.Focus(chromedp.CSS("#travel")))
	for _, step := range []struct {
		keys    string
		version int64
		balance string
	}{
		{kb.ArrowLeft + kb.ArrowLeft, 6, "1,809.50"},
		{kb.Home, 1, "0.00"},
		{kb.ArrowRight + kb.ArrowRight + kb.ArrowRight, 4, "2,309.50"},
	} {
		do(t, page, chromedp.KeyEvent(step.keys))
		waitFor(t, page, fmt.Sprintf(`document.querySelector('#travel-state').dataset.version === '%d' && !document.querySelector('#travel-state').classList.contains('loading')`, step.version))
		got := read[travelShown](t, page, `(() => { const d = document.querySelector('#travel-state');
			return {version: d.dataset.version, balance: d.querySelector('.tv-balance').textContent, source: d.querySelector('.tv-source').textContent,
				header: d.querySelector('.hdr').textContent, marker: document.querySelector('#chart .marker-label').textContent,
				future: document.querySelectorAll('#timeline > li.future').length}; })()`)
		want := travelShown{
			Version: fmt.Sprint(step.version), Balance: step.balance, Source: "the events table", Header: "Annals-Read-Source: events",
			Marker: fmt.Sprintf("v%d: %s", step.version, step.balance), Future: 8 - int(step.version),
		}
		if got != want {
			t.Errorf("at version %d the page shows\n%+v\nwant\n%+v", step.version, got, want)
		}
		// What the page shows is what the store answers.
		resp, body := getResponse(t, s.URL, fmt.Sprintf("/accounts/%s?version=%d", a, step.version))
		var past struct{ Balance int64 }
		decode(t, body, &past)
		if src := resp.Header.Get("Annals-Read-Source"); src != "events" || eur(past.Balance) != step.balance {
			t.Errorf("the API answers version %d with balance %d from %q", step.version, past.Balance, src)
		}
	}

	// The transfer, from the account's history: its status and its steps
	// on both accounts.
	do(t, page, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#account-transfers li[data-transfer="%s"] button`, tid))))
	waitFor(t, page, `document.querySelector('#transfer-summary').dataset.status === 'completed' && document.querySelectorAll('#transfer-steps > li').length === 2`)
	steps := read[[]shownStep](t, page, `[...document.querySelectorAll('#transfer-steps > li')].map(li => ({step: li.dataset.step,
		events: [...li.querySelectorAll('li[data-role]')].map(e => ({role: e.dataset.role, type: e.dataset.type, version: +e.dataset.version, account: e.querySelector('button').title}))}))`)
	wantSteps := []shownStep{
		{Step: "debit", Events: []shownStepEvent{{"source", "TransferOutBegun", 5, a}, {"source", "MoneyWithdrawn", 6, a}}},
		{Step: "credit", Events: []shownStepEvent{{"source", "TransferOutEnded", 7, a}, {"destination", "MoneyDeposited", 2, b}}},
	}
	if fmt.Sprint(steps) != fmt.Sprint(wantSteps) {
		t.Errorf("the transfer's steps show\n%+v\nwant\n%+v", steps, wantSteps)
	}
	if got := read[string](t, page, `document.querySelector('#transfer-summary').textContent`); !strings.Contains(got, "completed") || !strings.Contains(got, "500.00 EUR") || !strings.Contains(got, "savings") {
		t.Errorf("the transfer's summary reads %q", got)
	}

	// The journey of the event that began the transfer: the path of its
	// command through the functions, from their log.
	began := trail.Items[4]
	if began.Type != "TransferOutBegun" {
		t.Fatalf("event 5 is %s, want TransferOutBegun", began.Type)
	}
	do(t, page, chromedp.Click(chromedp.CSS(`#timeline > li[data-version="5"] .journey-link`)))
	waitFor(t, page, fmt.Sprintf(`document.querySelector('#journey').dataset.state === 'shown' && document.querySelector('#journey').dataset.correlation === %q`, began.CorrelationID))
	if got := read[string](t, page, `document.querySelector('#journey-id').textContent`); got != began.CorrelationID {
		t.Errorf("the journey is of %q, want the event's correlation id %q", got, began.CorrelationID)
	}
	journeyRows := read[[]shownJourneyStep](t, page, `[...document.querySelectorAll('#journey-steps tbody tr')].map(r => ({step: r.dataset.step,
		since: r.children[0].textContent, function: r.children[2].textContent, stream: r.children[3].textContent, took: r.children[4].textContent}))`)
	seen := map[string]shownJourneyStep{}
	var names []string
	for i, r := range journeyRows {
		names = append(names, r.Step)
		if _, ok := seen[strings.Fields(r.Step)[0]]; !ok {
			seen[strings.Fields(r.Step)[0]] = r
		}
		if r.Function == "—" || !strings.HasPrefix(r.Since, "+") {
			t.Errorf("journey row %d %+v: want its function and its time since the request", i, r)
		}
	}
	if len(journeyRows) == 0 || journeyRows[0].Step != "request" || journeyRows[0].Since != "+0.0 ms" || journeyRows[0].Took == "—" {
		t.Errorf("the journey begins %+v, want the request at +0.0 ms with its latency", journeyRows)
	}
	transferStream := "local#transfer#" + tid + "@1"
	for _, want := range []struct{ step, stream string }{
		{"commit", transferStream}, {"fan-out", transferStream}, {"view", ""}, {"transfer", ""},
	} {
		r, ok := seen[want.step]
		if !ok {
			t.Errorf("the journey's steps %q have no %s", names, want.step)
			continue
		}
		if want.stream != "" && r.Stream != want.stream {
			t.Errorf("the journey's %s is of %q, want %q", want.step, r.Stream, want.stream)
		}
	}
	if f := seen["fan-out"]; f.Took == "—" || f.Function != "FanoutFunction" {
		t.Errorf("the fan-out %+v: want the fan-out function and how long after the commit", f)
	}

	// The pipeline: every consumer of the template, live, nothing dead.
	var consumers []string
	for _, c := range s.Status(t.Context()) {
		consumers = append(consumers, c.Function)
	}
	waitFor(t, page, fmt.Sprintf(`(() => { const rows = [...document.querySelectorAll('#consumers tbody tr')];
		return rows.length === %d && rows.every(r => +r.children[1].textContent > 0) && document.querySelector('#pipeline-live').textContent.startsWith('live'); })()`, len(consumers)))
	rows := read[[]shownConsumer](t, page, `[...document.querySelectorAll('#consumers tbody tr')].map(r => ({function: r.dataset.function, behind: r.children[2].textContent, failed: r.children[5].textContent, deadLetters: r.children[6].textContent}))`)
	var functions []string
	for _, r := range rows {
		functions = append(functions, r.Function)
		if r.Failed != "0" || r.DeadLetters != "0" {
			t.Errorf("the pipeline shows %+v, want nothing failed or dead-lettered", r)
		}
	}
	if !slices.Equal(functions, consumers) {
		t.Errorf("the pipeline shows consumers %q, want the stack's %q", functions, consumers)
	}
	if got := read[string](t, page, `document.querySelector('#quarantined').textContent`); got != "none" {
		t.Errorf("quarantined streams: %q, want none", got)
	}

	shot, err := chromedp.Run(page, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	keepScreenshot(t, shot, "explorer.png")

	// A view quarantines a stream: the panel shows it at its next poll.
	db := awstest.DynamoDB(t)
	item := map[string]types.AttributeValue{"pk": viewtable.S("local#poisoned"), "sk": viewtable.N(0)}
	viewtable.SetPosition(item, projection.Position{Version: 3, Quarantine: &projection.Quarantine{Reason: "an event the view cannot read", At: 4}})
	awstest.PutItems(t, db, s.Names.Tables["HistoryTable"], []map[string]types.AttributeValue{item})
	waitFor(t, page, fmt.Sprintf(`document.querySelector('#quarantined li[data-view=%q][data-stream="local#poisoned"]') !== null`, views.HistoryView))
	if got := read[string](t, page, `document.querySelector('#quarantined').textContent`); got != "history local#poisoned stopped at v4 after v3: an event the view cannot read" {
		t.Errorf("the quarantine reads %q", got)
	}

	for _, e := range exceptions() {
		t.Errorf("the page: %s", e)
	}
}

// newBrowser starts a headless Chromium for the test and returns a tab,
// and what went wrong in the page so far: exceptions it threw, and errors
// it logged.
func newBrowser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("no browser at %s (%v): `make tools` installs Debian's chromium package, which the explorer's test drives", chromium, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		// Chromium's sandbox needs user namespaces, which a container
		// run as root may not have; the browser opens only the local
		// stack's page.
		chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1000),
	)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	var (
		mu     sync.Mutex
		errors []string
	)
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			errors = append(errors, (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				errors = append(errors, "console.error: "+strings.Join(args, " "))
			}
		}
	})
	if err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(errors)
	}
}

func do(t *testing.T, page context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(page, steps...); err != nil {
		t.Fatal(err)
	}
}

// read evaluates a JavaScript expression in the page and returns its
// value.
func read[T any](t *testing.T, page context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(page, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition in the page until it holds.
func waitFor(t *testing.T, page context.Context, cond string) {
	t.Helper()
	if _, err := chromedp.Run(page, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		body, _ := chromedp.Run(page, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
		t.Fatalf("the page never showed %s: %v\nit shows:\n%s", cond, err, body)
	}
}

// keepScreenshot checks that shot is a PNG of the window's width and
// writes it to the screenshots folder, or the test's own.
func keepScreenshot(t *testing.T, shot []byte, name string) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != 1400 || h < 1000 {
		t.Errorf("the screenshot is %dx%d, want the window's 1400 wide and the page's whole height", w, h)
	}
	dir := os.Getenv(screenshotsEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

type apiEvent struct {
	EventID       string `json:"eventId"`
	Version       int64  `json:"version"`
	Type          string `json:"type"`
	SchemaVersion int    `json:"schemaVersion"`
	OccurredAt    string `json:"occurredAt"`
	RecordedAt    string `json:"recordedAt"`
	CommandID     string `json:"commandId"`
	CorrelationID string `json:"correlationId"`
	CausationID   string `json:"causationId"`
	Actor         string `json:"actor"`
}

type shownEvent struct {
	Version     int64  `json:"version"`
	Type        string `json:"type"`
	What        string `json:"what"`
	Command     string `json:"command"`
	Correlation string `json:"correlation"`
	Causation   string `json:"causation"`
	Actor       string `json:"actor"`
	Recorded    string `json:"recorded"`
	Occurred    string `json:"occurred"`
	Schema      string `json:"schema"`
	Event       string `json:"event"`
}

type travelShown struct {
	Version string `json:"version"`
	Balance string `json:"balance"`
	Source  string `json:"source"`
	Header  string `json:"header"`
	Marker  string `json:"marker"`
	Future  int    `json:"future"`
}

type shownStep struct {
	Step   string           `json:"step"`
	Events []shownStepEvent `json:"events"`
}

type shownStepEvent struct {
	Role    string `json:"role"`
	Type    string `json:"type"`
	Version int64  `json:"version"`
	Account string `json:"account"`
}

type shownJourneyStep struct {
	Step     string `json:"step"`
	Since    string `json:"since"`
	Function string `json:"function"`
	Stream   string `json:"stream"`
	Took     string `json:"took"`
}

type shownConsumer struct {
	Function    string `json:"function"`
	Behind      string `json:"behind"`
	Failed      string `json:"failed"`
	DeadLetters string `json:"deadLetters"`
}

// millis is how the page shows a time: UTC, to the millisecond.
func millis(t *testing.T, ts string) string {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatal(err)
	}
	return at.UTC().Format("2006-01-02 15:04:05.000")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// eur formats cents as the page does: 1234567 is "12,345.67".
func eur(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "−", -cents
	}
	whole := fmt.Sprint(cents / 100)
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	return fmt.Sprintf("%s%s.%02d", sign, whole, cents%100)
}

func openWith(t *testing.T, url, body string) string {
	t.Helper()
	var out struct {
		AccountID string `json:"accountId"`
	}
	decode(t, command(t, url, "/accounts", body, http.StatusCreated), &out)
	return out.AccountID
}

func command(t *testing.T, url, path, body string, want int) []byte {
	t.Helper()
	status, answer := request(t, url, "POST", path, body)
	if status != want {
		t.Fatalf("POST %s %s: %d %s, want %d", path, body, status, answer, want)
	}
	return []byte(answer)
}

func get(t *testing.T, url, path string) []byte {
	t.Helper()
	_, body := getResponse(t, url, path)
	return body
}

func getResponse(t *testing.T, url, path string) (*http.Response, []byte) {
	t.Helper()
	resp, body, err := demo.Send(t.Context(), http.DefaultClient, url, "GET", path, "")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return resp, body
}

func historyLen(t *testing.T, url, id string) int {
	t.Helper()
	var h struct{ Items []json.RawMessage }
	decode(t, get(t, url, "/accounts/"+id+"/transactions"), &h)
	return len(h.Items)
}

func decode(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
}

// until polls done until it holds, or fails the test after 30 seconds.
func until(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
