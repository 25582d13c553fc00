package awstest

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/awsconfig"
)

// Fault is what the Wire does to one request.
type Fault struct {
	// Forward sends the request to the server first (its effect happens),
	// then answers with Status and Code instead of the server's response:
	// a lost answer. Without Forward the server never sees the request.
	Forward bool
	Status  int
	Code    string // the AWS error code, e.g. "ThrottlingException"
	// Body, if set, is the response body instead of an error naming Code:
	// with Status 200 and Forward, a success the client reads differently
	// from what the server did (e.g. a PutRecords answer that reports
	// records as failed although the server stored them).
	Body string
}

// Wire is an HTTP transport between an SDK client and the local server
// that counts every request by API operation (as the server sees them,
// retries included) and injects faults. It speaks the JSON protocols of
// DynamoDB, DynamoDB Streams, Kinesis, SQS and KMS.
type Wire struct {
	mu     sync.Mutex
	counts map[string]int
	// Inject, if set, decides the fault for the nth request (from 1) of an
	// operation; nil means pass it through. Set it before the Wire carries
	// requests; SetPlan changes faults while it does.
	Inject func(operation string, n int) *Fault
	plan   func(Call) *Fault
	next   http.RoundTripper
}

// Call is one request as a fault plan sees it.
type Call struct {
	// Service is the API named by the request's X-Amz-Target:
	// DynamoDB_20120810, DynamoDBStreams_20120810, Kinesis_20131202,
	// AmazonSQS, TrentService (KMS). DynamoDB Streams and Kinesis share
	// operation names (GetRecords, GetShardIterator), not their error codes.
	Service   string
	Operation string
	N         int // the nth request of the operation, from 1
}

// SetPlan makes plan decide every request's fault from now on, in place
// of Inject; nil turns it off. It is safe while requests are in flight,
// so a test can run a whole system under faults, then turn them off and
// watch it recover.
func (w *Wire) SetPlan(plan func(Call) *Fault) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.plan = plan
}

// NewWire returns a counting transport to the local server.
func NewWire() *Wire {
	return &Wire{counts: map[string]int{}, next: http.DefaultTransport}
}

// Counts returns the requests seen per operation.
func (w *Wire) Counts() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, len(w.counts))
	for k, v := range w.counts {
		out[k] = v
	}
	return out
}

// Reset forgets the counts.
func (w *Wire) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts = map[string]int{}
}

func (w *Wire) RoundTrip(req *http.Request) (*http.Response, error) {
	target := req.Header.Get("X-Amz-Target")
	dot := strings.LastIndex(target, ".")
	op := target[dot+1:]
	w.mu.Lock()
	w.counts[op]++
	n := w.counts[op]
	inject, plan := w.Inject, w.plan
	w.mu.Unlock()

	var f *Fault
	switch {
	case plan != nil:
		f = plan(Call{Service: target[:max(dot, 0)], Operation: op, N: n})
	case inject != nil:
		f = inject(op, n)
	}
	if f == nil {
		return w.next.RoundTrip(req)
	}
	if f.Forward {
		resp, err := w.next.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	body := fmt.Sprintf(`{"__type":"com.amazonaws#%s","message":"injected by the test"}`, f.Code)
	if f.Body != "" {
		body = f.Body
	}
	header := http.Header{
		"Content-Type": {"application/x-amz-json-1.0"},
		// DynamoDB clients check the body against it.
		"X-Amz-Crc32": {strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10)},
	}
	if f.Code != "" {
		header.Set("X-Amzn-Errortype", f.Code)
	}
	return &http.Response{
		StatusCode:    f.Status,
		Status:        fmt.Sprintf("%d %s", f.Status, http.StatusText(f.Status)),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader([]byte(body))),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// ServerError is a 500 whose effect is unknown to the client.
func ServerError(forward bool) *Fault {
	return &Fault{Forward: forward, Status: http.StatusInternalServerError, Code: "InternalServerError"}
}

// Throttled is DynamoDB's (and Kinesis') throttling answer; the server never
// saw the request.
func Throttled(code string) *Fault {
	return &Fault{Status: http.StatusBadRequest, Code: code}
}

// FastRetries keeps the SDK's standard retry behaviour (which requests are
// retried, how often) but with backoffs short enough for tests.
func FastRetries(attempts int) func(*retry.StandardOptions) {
	return func(o *retry.StandardOptions) {
		o.MaxAttempts = attempts
		o.MaxBackoff = 20 * time.Millisecond
	}
}

// DynamoDBOver returns a DynamoDB client whose requests go through w.
func DynamoDBOver(t testing.TB, w *Wire, attempts int) *dynamodb.Client {
	t.Helper()
	cfg := Config(t, "DYNAMODB")
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.HTTPClient = awsconfig.SafeBodies(&http.Client{Transport: w})
		o.Retryer = retry.NewStandard(FastRetries(attempts))
	})
}
