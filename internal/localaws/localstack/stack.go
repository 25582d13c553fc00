// Package localstack runs the whole application on one machine, from
// template.yaml: it creates every table, stream, queue and bucket the
// template declares on the local AWS servers, hosts every function in this process
// through the same wiring the Lambdas start with, runs the template's
// stream event sources, and serves the template's HTTP routes as API
// Gateway would.
package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"annals/internal/kit/awsconfig"
	"annals/internal/localaws/localsources"
	"annals/internal/localaws/provision"
	"annals/internal/localaws/samtemplate"
)

// Config says where and how the stack runs.
type Config struct {
	Template *samtemplate.Template
	// AWS points at the local servers (moto).
	AWS aws.Config
	// Prefix starts every resource name: prefix-LogicalId.
	Prefix string
	// Addr is where the HTTP API listens, e.g. 127.0.0.1:3000; port 0
	// picks a free one.
	Addr string
	// Functions maps each function's logical id in the template to the
	// wiring its Lambda main starts with; every function of the template
	// must have one.
	Functions map[string]awsconfig.Wire
	// Tenant and Actor identify every caller: there is no authorizer.
	Tenant, Actor string
	// Params are template parameter values; others take their defaults.
	Params map[string]string
	// Log receives the functions', the sources' and the gateway's logs.
	Log *slog.Logger
	// Interval between polls of a caught-up stream; the sources' default
	// when zero.
	Interval time.Duration
	// Views maps each read model's name to its table's logical id in the
	// template: the status lists the streams each has quarantined.
	Views map[string]string
	// Pages are served beside the API by the local gateway only, ahead of
	// the template's routes: ServeMux pattern -> handler.
	Pages map[string]http.Handler
	// OpenAPI is the API's OpenAPI document as JSON, which the gateway
	// then serves at DocumentPath with a page that renders it at DocsPath;
	// nil serves neither, as API Gateway does not.
	OpenAPI []byte
}

// Stack is the running application.
type Stack struct {
	// URL is the HTTP API's base URL.
	URL   string
	Names *provision.Names

	runner   *localsources.Runner
	sources  []samtemplate.EventSource
	invokers map[string]Invoke
	timeouts map[string]time.Duration
	envs     map[string]map[string]string
	sqs      *sqs.Client
	dynamodb *dynamodb.Client
	views    map[string]string
	server   *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	errs     chan error
}

// Start creates the resources, wires the functions and starts serving.
func Start(ctx context.Context, c Config) (*Stack, error) {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Tenant == "" || c.Actor == "" {
		return nil, errors.New("localstack: a local tenant and actor are required")
	}
	// The address first: a port in use is the likeliest mistake, and says
	// so before a minute of creating tables.
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("localstack: cannot serve on %s (another `make local`? choose another with PORT=N): %w", c.Addr, err)
	}
	s, err := start(ctx, c, ln)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return s, nil
}

func start(ctx context.Context, c Config, ln net.Listener) (*Stack, error) {
	tpl := c.Template
	clients := provision.Clients{
		DynamoDB: dynamodb.NewFromConfig(c.AWS),
		Kinesis:  kinesis.NewFromConfig(c.AWS),
		SQS:      sqs.NewFromConfig(c.AWS),
		KMS:      kms.NewFromConfig(c.AWS),
		// The local S3 serves buckets by path, not by host name.
		S3: s3.NewFromConfig(c.AWS, func(o *s3.Options) { o.UsePathStyle = true }),
	}
	names, err := provision.All(ctx, clients, tpl, c.AWS.Region, c.Prefix)
	if err != nil {
		return nil, err
	}

	invokers := map[string]Invoke{}
	timeouts := map[string]time.Duration{}
	envs := map[string]map[string]string{}
	for _, fn := range tpl.Functions() {
		wire := c.Functions[fn]
		if wire == nil {
			return nil, fmt.Errorf("localstack: template function %s has no wiring in Config.Functions", fn)
		}
		env, err := tpl.Environment(fn, names, c.Params)
		if err != nil {
			return nil, err
		}
		envs[fn] = maps.Clone(env)
		env["LOCAL_TENANT"], env["LOCAL_ACTOR"] = c.Tenant, c.Actor
		h, err := awsconfig.Build(ctx, wire, awsconfig.NewEnv(env, c.Log.With("function", fn)), c.AWS)
		if err != nil {
			return nil, fmt.Errorf("localstack: wire %s: %w", fn, err)
		}
		invokers[fn] = recovering(fn, lambda.NewHandler(h).Invoke, c.Log)
		timeouts[fn] = timeout(tpl, fn)
	}

	sources, err := tpl.EventSources()
	if err != nil {
		return nil, err
	}
	runner, err := localsources.New(localsources.Config{
		Sources:  sources,
		Names:    names.Physical(),
		DynamoDB: clients.DynamoDB,
		Streams:  dynamodbstreams.NewFromConfig(c.AWS),
		Kinesis:  clients.Kinesis,
		SQS:      clients.SQS,
		Interval: c.Interval,
		Log:      c.Log.With("component", "sources"),
	})
	if err != nil {
		return nil, err
	}
	for fn, invoke := range invokers {
		runner.Register(fn, localsources.Handler(invoke))
	}

	routes, err := tpl.Routes()
	if err != nil {
		return nil, err
	}
	gateway, err := NewGateway(routes, invokers, timeouts, c.Log.With("component", "gateway"))
	if err != nil {
		return nil, err
	}
	if c.OpenAPI != nil {
		if err := gateway.ServeDocument(c.OpenAPI); err != nil {
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Stack{
		URL:      "http://" + ln.Addr().String(),
		Names:    names,
		invokers: invokers,
		timeouts: timeouts,
		envs:     envs,
		runner:   runner,
		sources:  sources,
		sqs:      clients.SQS,
		dynamodb: clients.DynamoDB,
		views:    c.Views,
		cancel:   cancel,
		errs:     make(chan error, 2),
	}
	// The local stack's own routes, which API Gateway does not serve, go
	// before the template's.
	local := http.NewServeMux()
	local.HandleFunc("GET "+StatusPath, s.serveStatus)
	for pattern, h := range c.Pages {
		local.Handle(pattern, h)
	}
	s.server = &http.Server{Handler: localFirst{local, gateway}, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.errs <- fmt.Errorf("localstack: HTTP server: %w", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		if err := runner.Run(runCtx); err != nil {
			s.errs <- fmt.Errorf("localstack: event sources: %w", err)
		}
	}()
	return s, nil
}

// localFirst serves a request from local when one of its patterns
// matches, and hands any other to the gateway as it came: the gateway, as
// API Gateway, neither cleans paths nor redirects.
type localFirst struct {
	local   *http.ServeMux
	gateway http.Handler
}

func (l localFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := l.local.Handler(r); pattern != "" {
		// Served by the mux, not the handler it found: that sets the
		// pattern's wildcards (r.PathValue).
		l.local.ServeHTTP(w, r)
		return
	}
	l.gateway.ServeHTTP(w, r)
}

// timeout is the function's Timeout (its own, or the Globals'), as a bound
// on each local invocation.
func timeout(tpl *samtemplate.Template, fn string) time.Duration {
	secs := func(v any) int {
		n, _ := strconv.Atoi(fmt.Sprint(v))
		return n
	}
	n := secs(tpl.Resources[fn].Properties["Timeout"])
	if n <= 0 {
		n = secs(tpl.Globals["Function"]["Timeout"])
	}
	if n <= 0 {
		n = 3 // Lambda's default
	}
	return time.Duration(n) * time.Second
}

// Invoke runs one function of the stack with an event, within its
// timeout, as Lambda's Invoke would: what a scheduled function's schedule
// does on AWS, which the local stack does not run.
func (s *Stack) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	invoke := s.invokers[function]
	if invoke == nil {
		return nil, fmt.Errorf("localstack: no function %s", function)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeouts[function])
	defer cancel()
	return invoke(ctx, payload)
}

// Environment is what the stack's functions read from their environment,
// all together: every table, stream, queue and bucket by the variable
// that names it, and the template's settings. The operator's tool reads
// the same variables (docs/operations.md), so these point it at the
// local stack. A variable two functions set differently is left out.
func (s *Stack) Environment() map[string]string {
	out := map[string]string{}
	conflicts := map[string]bool{}
	for _, env := range s.envs {
		for k, v := range env {
			if old, ok := out[k]; ok && old != v {
				conflicts[k] = true
			}
			out[k] = v
		}
	}
	for k := range conflicts {
		delete(out, k)
	}
	return out
}

// Err reports a part of the stack that stopped on its own.
func (s *Stack) Err() <-chan error { return s.errs }

// Drain delivers every record the sources have at this moment, for tests
// and demos that must not wait for a poll.
func (s *Stack) Drain(ctx context.Context) error { return s.runner.Drain(ctx) }

// Close stops serving and polling, and waits for both.
func (s *Stack) Close() error {
	s.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.server.Shutdown(ctx)
	s.wg.Wait()
	return err
}

// Consumer is the live status of one event source.
type Consumer struct {
	localsources.Stats
	// DeadLetters is the depth of the source's OnFailure queue, -1 when
	// it has none or it could not be read.
	DeadLetters int
}

// Status returns every consumer's counters, ordered as the template's
// sources.
func (s *Stack) Status(ctx context.Context) []Consumer {
	stats := s.runner.Stats()
	out := make([]Consumer, 0, len(stats))
	for i, st := range stats {
		c := Consumer{Stats: st, DeadLetters: -1}
		if i < len(s.sources) {
			if url, ok := s.Names.QueueURLs[s.sources[i].OnFailure]; ok {
				c.DeadLetters = s.queueDepth(ctx, url)
			}
		}
		out = append(out, c)
	}
	return out
}

func (s *Stack) queueDepth(ctx context.Context, url string) int {
	out, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	if err != nil {
		return -1
	}
	return n
}

// FormatStatus is one compact line per consumer.
func FormatStatus(cs []Consumer) []string {
	lines := make([]string, 0, len(cs))
	for _, c := range cs {
		line := fmt.Sprintf("%-18s %6d records  %4d behind", c.Function, c.Delivered, c.Behind)
		if c.Kind == samtemplate.KindKinesis {
			line += fmt.Sprintf("  %5d ms lag", c.MillisBehind)
		}
		line += fmt.Sprintf("  %3d retries  %3d failed", c.Retries, c.Failed)
		if c.DeadLetters >= 0 {
			line += fmt.Sprintf("  %3d dead letters", c.DeadLetters)
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return lines
}

// recovering fails an invocation whose function panics, as Lambda does
// (the gateway answers 500, an event source retries), instead of letting
// the panic end the whole local stack; the stack goes to the log, as
// Lambda's runtime writes it to the function's.
func recovering(fn string, invoke Invoke, log *slog.Logger) Invoke {
	return func(ctx context.Context, payload []byte) (out []byte, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.ErrorContext(ctx, "function panicked", "function", fn, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				out, err = nil, fmt.Errorf("%s panicked: %v", fn, r)
			}
		}()
		return invoke(ctx, payload)
	}
}
