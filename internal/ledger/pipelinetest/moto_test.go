package pipelinetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/google/uuid"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/fanout"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/httpapi/httpapitest"
	"annals/internal/kit/personal"
	"annals/internal/kit/projection"
	"annals/internal/kit/sqsqueue"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/ledger/commandapi"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/localsources"
	"annals/internal/localaws/samtemplate"
)

// pipelineFunctions are the functions whose event sources the pipeline runs.
var pipelineFunctions = []string{"FanoutFunction", "ProjectorFunction"}

// pipeline is the whole write and read path on moto, every resource made
// from template.yaml: the command handler writing the events table, the
// table's stream running the fan-out, Kinesis running the projector, the
// views in their tables, the projector's dead-letter queue.
type pipeline struct {
	tenant  string
	vault   *personal.Vault
	cmd     *commandapi.Handler
	events  *eventstore.Store // the events table, as the projector reads it
	view    *views.DynamoAccounts
	history *views.DynamoHistory
	// viewDB and tables reach every view of the registry, by name.
	viewDB views.DB
	tables map[string]string
	queue  string // the dead-letter queue's URL
	stream string // the Kinesis stream's name
	runner *localsources.Runner
	// Faults on the fan-out's Kinesis client and the views' DynamoDB
	// client; nil Inject passes everything through.
	kinesisWire, viewWire *awstest.Wire
	// projected is called with every batch the projector receives.
	projected func(events.KinesisEvent)
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	db := awstest.DynamoDB(t)
	eventsTable := awstest.Table(t, db, "EventsTable")
	stream := awstest.KinesisStream(t, "EventsStream")
	p := &pipeline{
		tenant:      "acme",
		events:      eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithLogger(log)),
		queue:       awstest.Queue(t, "ProjectorDeadLetterQueue"),
		stream:      stream,
		kinesisWire: awstest.NewWire(),
		viewWire:    awstest.NewWire(),
	}
	viewDB := awstest.DynamoDBOver(t, p.viewWire, 2)
	p.viewDB, p.tables = viewDB, map[string]string{}
	for _, v := range views.All {
		p.tables[v.Name] = awstest.Table(t, db, v.Table)
	}
	p.view = views.NewDynamoAccounts(viewDB, p.tables[views.AccountsView])
	p.history = views.NewDynamoHistory(viewDB, p.tables[views.HistoryView])

	newID := func() string { return uuid.Must(uuid.NewV7()).String() }
	p.vault = personal.NewVault(personal.NewMemoryKeys())
	p.cmd = commandapi.New(commandapi.Config{
		Vault: p.vault,
		Store: eventstore.New(dynamostore.New(db, eventsTable), eventstore.WithIDs(newID), eventstore.WithLogger(log)),
		Now:   time.Now,
		NewID: newID,
		Log:   log,
	})

	all, err := awstest.Template(t).EventSources()
	if err != nil {
		t.Fatal(err)
	}
	var sources []samtemplate.EventSource
	for _, s := range all {
		if slices.Contains(pipelineFunctions, s.Function) {
			sources = append(sources, s)
		}
	}
	if len(sources) != len(pipelineFunctions) {
		t.Fatalf("template.yaml has event sources %+v; want one for each of %v", sources, pipelineFunctions)
	}
	p.runner, err = localsources.New(localsources.Config{
		Sources: sources,
		Names: map[string]string{
			"EventsTable": eventsTable, "EventsStream": stream,
			"ProjectorDeadLetterQueue": path.Base(p.queue),
			// The fan-out never gives up (unbounded retries); its
			// on-failure queue is there as the template declares it.
			"FanoutDeadLetterQueue": path.Base(awstest.Queue(t, "FanoutDeadLetterQueue")),
		},
		DynamoDB: db,
		Streams:  dynamodbstreams.NewFromConfig(awstest.Config(t, "DYNAMODB_STREAMS")),
		Kinesis:  awstest.Kinesis(t),
		SQS:      awstest.SQS(t),
		Interval: 20 * time.Millisecond,
		Log:      log,
	})
	if err != nil {
		t.Fatal(err)
	}
	fan := fanout.New(fanout.Config{
		Kinesis: awstest.KinesisOver(t, p.kinesisWire, 3), Stream: stream, Log: log,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond },
	})
	p.runner.Register("FanoutFunction", localsources.JSONHandler(fan.Handle))
	dead := projection.NewDeadLetters(sqsqueue.New(awstest.SQS(t), p.queue))
	// Every view of the registry, as the projector feeds them.
	var fed []projection.View
	for _, v := range views.All {
		fed = append(fed, v.New(viewDB, p.tables[v.Name], p.events, dead, log))
	}
	proj := projection.NewHandler(views.Decode, dead, log, fed...)
	p.runner.Register("ProjectorFunction", localsources.JSONHandler(func(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
		if p.projected != nil {
			p.projected(ev)
		}
		return proj.Handle(ctx, ev)
	}))
	return p
}

// response is what a command answered.
type response struct {
	status  int
	body    map[string]any
	version int64
}

// send serves one command request as API Gateway would hand it over, with
// the token's claims already verified.
func (p *pipeline) send(t *testing.T, route, body, key string) response {
	t.Helper()
	headers := map[string]string{}
	if key != "" {
		headers["idempotency-key"] = key
	}
	resp, err := p.cmd.Handle(t.Context(), httpapitest.Request{
		Method: "POST", RouteKey: "POST " + route, Path: route, Body: body, Headers: headers,
		Subject: "clerk", Tenant: p.tenant, Scopes: []string{httpapi.ScopeWrite},
	}.Event())
	if err != nil {
		t.Fatalf("POST %s: %v", route, err)
	}
	r := response{status: resp.StatusCode}
	if err := json.Unmarshal([]byte(resp.Body), &r.body); err != nil {
		t.Fatalf("POST %s answered %d with %q: %v", route, resp.StatusCode, resp.Body, err)
	}
	if v, ok := r.body["version"].(float64); ok {
		r.version = int64(v)
	}
	return r
}

// request is the HTTP request for a ledger command on account id.
func request(id string, c account.Command) (route, body string) {
	switch c := c.(type) {
	case account.Open:
		return "/accounts", fmt.Sprintf(`{"owner":%q,"currency":%q,"overdraftLimit":%d}`, c.Owner, c.Currency, c.OverdraftLimit)
	case account.Deposit:
		return "/accounts/" + id + "/deposits", fmt.Sprintf(`{"amount":%d,"reference":%q}`, c.Amount, c.Reference)
	case account.Withdraw:
		return "/accounts/" + id + "/withdrawals", fmt.Sprintf(`{"amount":%d,"reference":%q}`, c.Amount, c.Reference)
	case account.Close:
		return "/accounts/" + id + "/close", ""
	}
	panic(fmt.Sprintf("no route for %T", c))
}

// drain runs the event sources until every record has been delivered. It
// takes about 10 s alone; the deadline leaves room for a machine busy with
// the other packages' tests, which has once needed over 60 s.
func (p *pipeline) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if err := p.runner.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

// stats returns the counters of a function's event source.
func (p *pipeline) stats(t *testing.T, function string) localsources.Stats {
	t.Helper()
	for _, s := range p.runner.Stats() {
		if s.Function == function {
			return s
		}
	}
	t.Fatalf("no event source of %s", function)
	return localsources.Stats{}
}

// deadLetters receives what is on the dead-letter queue, polling until
// want letters have come or, for want 0, once.
func (p *pipeline) deadLetters(t *testing.T, want int) []projection.DeadLetter {
	t.Helper()
	var got []projection.DeadLetter
	for _, body := range awstest.ReadQueue(t, p.queue, want) {
		var l projection.DeadLetter
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatalf("dead letter %s: %v", body, err)
		}
		got = append(got, l)
	}
	return got
}

// TestPipelineOnMoto sends random commands through the command handler
// while template.yaml's event sources run the fan-out and the projector on
// moto, with lost answers from Kinesis (the fan-out's retries put records
// twice) and throttled or lost view writes (the mapping resends), and
// asserts that the account view and the transaction history equal the
// domain's fold of every stream the events table holds, and that every
// command took effect exactly once.
func TestPipelineOnMoto(t *testing.T) {
	t.Parallel()
	for seed := range seeds(5, 50) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			reportSeed(t)
			runPipeline(t, seed)
		})
	}
}

func runPipeline(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	p := newPipeline(t)
	// The second PutRecords and every fifth after it reach Kinesis but
	// their answers are lost: the SDK sends them again.
	p.kinesisWire.Inject = func(op string, n int) *awstest.Fault {
		if op == "PutRecords" && n%5 == 2 {
			return awstest.ServerError(true)
		}
		return nil
	}
	// View writes (the account view's puts, the history's transactions):
	// some lost answers (the retry finds the position moved), some
	// throttled twice in a row (the SDK gives up, the projector reports the
	// record, the mapping resends from it).
	p.viewWire.Inject = func(op string, n int) *awstest.Fault {
		switch {
		case op != "PutItem" && op != "TransactWriteItems":
			return nil
		case n%13 == 3:
			return awstest.ServerError(true)
		case n%13 == 7 || n%13 == 8:
			return awstest.Throttled("ProvisionedThroughputExceededException")
		}
		return nil
	}

	ctx, cancel := context.WithCancel(t.Context())
	running := make(chan error, 1)
	go func() { running <- p.runner.Run(ctx) }()

	owners := []string{"ann", "bob", "cho"}
	type client struct {
		id, owner string
		model     account.Account // the client's own fold of what was accepted
		version   int64           // from the last success's body
	}
	accounts := make([]*client, 10)
	for i := range accounts {
		accounts[i] = &client{owner: owners[rng.IntN(len(owners))]}
	}
	replays := 0
	for c := range 40 {
		a := accounts[rng.IntN(len(accounts))]
		// The account id is the handler's to choose; the client's model
		// decides an open under a stand-in and again under the real id.
		cmd := nextCommand(rng, a.model, "stand-in", a.owner)
		if !httpCommand(cmd) {
			cmd = account.Deposit{Amount: 1 + rng.Int64N(500), Reference: "cash"}
		}
		evs, refused := account.Decide(a.model, cmd)
		route, body := request(a.id, cmd)
		key := ""
		if rng.IntN(4) == 0 {
			key = fmt.Sprintf("key-%d-%d", seed, c)
		}
		r := p.send(t, route, body, key)
		if key != "" && rng.IntN(2) == 0 { // the client did not hear the answer
			again := p.send(t, route, body, key)
			if again.status != r.status || fmt.Sprint(again.body) != fmt.Sprint(r.body) {
				t.Errorf("command %d replayed as %d %v, first answered %d %v", c, again.status, again.body, r.status, r.body)
			}
			replays++
		}
		if ok := r.status/100 == 2; ok != (refused == nil) {
			t.Fatalf("command %d (%T %s) answered %d %v; the ledger's Decide says %v", c, cmd, body, r.status, r.body, refused)
		}
		if refused != nil {
			continue
		}
		if a.id == "" {
			a.id = r.body["accountId"].(string)
			if o, ok := cmd.(account.Open); ok {
				o.AccountID = a.id
				evs, _ = account.Decide(a.model, o)
			}
		}
		for _, e := range evs {
			a.model = account.Evolve(a.model, e)
		}
		a.version = r.version
	}
	cancel()
	if err := <-running; err != nil {
		t.Fatal(err)
	}
	p.drain(t)

	var streams []eventstore.StreamID
	for _, a := range accounts {
		if a.id == "" {
			continue
		}
		s, err := eventstore.NewStreamID(p.tenant, "account", a.id)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	truths := checkAccounts(t, t.Context(), p.view, p.events, streams)
	checkOwners(t, t.Context(), p.view, truths, map[string][]string{p.tenant: append(owners, "nobody")})
	for _, tr := range truths {
		checkHistory(t, t.Context(), p.history, tr, true, 4)
	}
	p.checkEveryView(t, app.AccountCategory, streams)

	// Each command took effect once: the events table folds to what the
	// client made of the answers, at the version the last answer named.
	commits := 0
	for i, tr := range truths {
		a := accounts[slices.IndexFunc(accounts, func(a *client) bool { return a.id == tr.stream.ID })]
		// The answers hold the owner in the clear, the events sealed, with
		// the owner's blind index, which no answer names.
		state := tr.state()
		owner, err := p.vault.Open(t.Context(), p.tenant, state.Owner)
		if err != nil || !personal.IsSealed(state.Owner) || state.OwnerIndex == "" {
			t.Errorf("stream %d (%s) holds owner %q (index %q), want it sealed and indexed: %v", i, tr.stream, state.Owner, state.OwnerIndex, err)
		}
		state.Owner, state.OwnerIndex = owner, ""
		if fmt.Sprintf("%+v", state) != fmt.Sprintf("%+v", a.model) || tr.head() != a.version {
			t.Errorf("stream %d (%s) folds to %+v at %d; the answers said %+v at %d", i, tr.stream, state, tr.head(), a.model, a.version)
		}
		seen := map[string]bool{}
		for _, e := range tr.events {
			seen[e.CommitID] = true
		}
		commits += len(seen)
	}

	fan, proj := p.stats(t, "FanoutFunction"), p.stats(t, "ProjectorFunction")
	if fan.Delivered != int64(commits) || fan.Failed != 0 {
		t.Errorf("fan-out source %+v; want each of the %d commits delivered once", fan, commits)
	}
	lost := p.kinesisWire.Counts()["PutRecords"] >= 2
	if proj.Failed != 0 || proj.Delivered < int64(commits) || (lost && proj.Delivered == int64(commits)) {
		t.Errorf("projector source %+v; want the %d commits delivered, some twice after a lost PutRecords answer (%v)", proj, commits, lost)
	}
	if l := p.deadLetters(t, 0); len(l) > 0 {
		t.Errorf("dead letters %+v; nothing was poison", l)
	}
	t.Logf("%d commits on %d accounts, %d replays; fan-out %+v; projector %+v; view writes %v",
		commits, len(streams), replays, fan, proj, p.viewWire.Counts())
}

// httpCommand tells whether a command has a route of its own (transfer
// steps are the process manager's).
func httpCommand(c account.Command) bool {
	switch c := c.(type) {
	case account.Open, account.Close:
		return true
	case account.Deposit:
		return c.TransferID == ""
	case account.Withdraw:
		return c.TransferID == ""
	}
	return false
}

// checkEveryView holds every view of the registry that keeps streams of
// category to the fold of their events, with the view's own verification:
// the oracles above know the accounts and the history by heart, this
// reaches a view added later too. The pipeline has drained, so a stream
// behind is as wrong as one that differs.
func (p *pipeline) checkEveryView(t *testing.T, category string, streams []eventstore.StreamID) {
	t.Helper()
	checked := 0
	for _, v := range views.All {
		if v.Category != category {
			continue
		}
		checked++
		table := p.tables[v.Name]
		rep, err := v.Verify(t.Context(), p.viewDB, table, table, p.events, streams, 2)
		if err != nil {
			t.Fatalf("verify the %s view: %v", v.Name, err)
		}
		if !rep.OK() || len(rep.Lagging) > 0 || rep.Streams != len(streams) || rep.Equal != len(streams) {
			t.Errorf("the %s view against the fold: %+v", v.Name, rep)
		}
	}
	if checked < 3 {
		t.Errorf("%d views keep %s streams; the registry has at least accounts, history and statements", checked, category)
	}
}
