package s3archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"annals/internal/kit/awserr"
	"annals/internal/kit/eventstore"
)

// fakeS3 answers requests from a script and keeps them.
type fakeS3 struct {
	mu      sync.Mutex
	answers []answer
	seen    []*http.Request
	bodies  [][]byte
}

type answer struct {
	status int
	body   string
}

func (f *fakeS3) Do(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := io.ReadAll(r.Body)
	f.seen, f.bodies = append(f.seen, r), append(f.bodies, b)
	a := answer{status: 200}
	if len(f.answers) > 0 {
		a, f.answers = f.answers[0], f.answers[1:]
	}
	return &http.Response{StatusCode: a.status, Body: io.NopCloser(strings.NewReader(a.body)), Header: http.Header{}, Request: r}, nil
}

type endpoints map[string]string

func (e endpoints) GetServiceBaseEndpoint(_ context.Context, id string) (string, bool, error) {
	v, ok := e[id]
	return v, ok, nil
}

type ignoring bool

func (i ignoring) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	return bool(i), bool(i), nil
}

func config(f *fakeS3, region string, sources ...any) aws.Config {
	return aws.Config{
		Region:        region,
		Credentials:   credentials.NewStaticCredentialsProvider("AKID", "SECRET", "TOKEN"),
		HTTPClient:    f,
		ConfigSources: sources,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 3; o.MaxBackoff = time.Millisecond })
		},
	}
}

// The bucket's URL is the one the SDK's S3 client would use for the same
// configuration: its virtual host on AWS (in China too), the regional
// host for a name with dots, and a configured endpoint with the bucket in
// the path, unless configured endpoints are ignored.
func TestEndpoints(t *testing.T) {
	withoutEndpointVariables(t)
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	for _, c := range []struct {
		name, region, bucket string
		base                 *string
		sources              []any
		want                 string
	}{
		{"aws", "eu-west-1", "annals-archive", nil, nil, "https://annals-archive.s3.eu-west-1.amazonaws.com/t/c/i/3.jsonl"},
		{"china", "cn-north-1", "annals-archive", nil, nil, "https://annals-archive.s3.cn-north-1.amazonaws.com.cn/t/c/i/3.jsonl"},
		{"a name with dots", "us-east-1", "archive.example.com", nil, nil, "https://s3.us-east-1.amazonaws.com/archive.example.com/t/c/i/3.jsonl"},
		{"the service's endpoint", "us-east-1", "b", nil, []any{endpoints{"S3": "http://127.0.0.1:4566"}}, "http://127.0.0.1:4566/b/t/c/i/3.jsonl"},
		{"every service's endpoint", "us-east-1", "b", aws.String("http://localhost:9000/"), nil, "http://localhost:9000/b/t/c/i/3.jsonl"},
		{"endpoints ignored", "us-east-1", "b", nil, []any{ignoring(true), endpoints{"S3": "http://127.0.0.1:4566"}}, "https://b.s3.us-east-1.amazonaws.com/t/c/i/3.jsonl"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeS3{}
			cfg := config(f, c.region, c.sources...)
			cfg.BaseEndpoint = c.base
			b, err := New(cfg, c.bucket)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Get(t.Context(), "t/c/i/3.jsonl"); err != nil {
				t.Fatal(err)
			}
			if got := f.seen[0].URL.String(); got != c.want {
				t.Errorf("GET %s, want %s", got, c.want)
			}
		})
	}
	if _, err := New(config(&fakeS3{}, "us-east-1", endpoints{"S3": "not a url"}), "b"); err == nil {
		t.Error("an endpoint that is no URL was taken")
	}
	if _, err := New(config(&fakeS3{}, ""), "b"); err == nil {
		t.Error("a bucket without a region was taken")
	}
}

// A key is sent and signed escaped as S3 wants it, a put with its
// checksum and its type, and every request signed with the payload's
// hash.
func TestRequests(t *testing.T) {
	withoutEndpointVariables(t)
	f := &fakeS3{}
	b, err := New(config(f, "us-east-1", endpoints{"S3": "http://s3.local"}), "b")
	if err != nil {
		t.Fatal(err)
	}
	b.now = func() time.Time { return time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) }
	body := []byte("{\"format\":\"annals-archive/2\"}\n")
	if err := b.Put(t.Context(), "acme/account/a b+ü/3.jsonl", body); err != nil {
		t.Fatal(err)
	}
	r := f.seen[0]
	if r.Method != "PUT" || r.URL.EscapedPath() != "/b/acme/account/a%20b%2B%C3%BC/3.jsonl" || !bytes.Equal(f.bodies[0], body) {
		t.Errorf("PUT %s %s (%q)", r.Method, r.URL.EscapedPath(), f.bodies[0])
	}
	for k, want := range map[string]string{
		"X-Amz-Checksum-Sha256": "udmUcH0tls6hfivFE1NDCxuHTCgxVEeGu/UUuyGTuwg=",
		"X-Amz-Content-Sha256":  "b9d994707d2d96cea17e2bc51353430b1b874c2831544786bbf514bb2193bb08",
		"Content-Type":          "application/x-ndjson",
		"X-Amz-Date":            "20260301T090000Z",
		"X-Amz-Security-Token":  "TOKEN",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/20260301/us-east-1/s3/aws4_request, SignedHeaders=") ||
		!strings.Contains(auth, "x-amz-checksum-sha256") || !strings.Contains(auth, "x-amz-content-sha256") {
		t.Errorf("Authorization: %s", auth)
	}
}

// S3's errors: a missing key is eventstore.ErrNotFound; a 5xx or a
// throttle is sent again and, if it lasts, classified as the SDK's errors
// are; a refusal is neither sent again nor anything but itself.
func TestErrors(t *testing.T) {
	withoutEndpointVariables(t)
	doc := func(code string) string {
		return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>it &amp; that</Message></Error>`
	}
	for _, c := range []struct {
		name     string
		answers  []answer
		requests int
		want     error
	}{
		{"missing", []answer{{404, doc("NoSuchKey")}}, 1, eventstore.ErrNotFound},
		{"a 503 once", []answer{{503, doc("ServiceUnavailable")}}, 2, nil},
		{"slowed down throughout", []answer{{503, doc("SlowDown")}, {503, doc("SlowDown")}, {503, doc("SlowDown")}}, 3, eventstore.ErrThrottled},
		{"a 500 throughout", []answer{{500, doc("InternalError")}, {500, ""}, {500, ""}}, 3, eventstore.ErrUnavailable},
		{"refused", []answer{{403, doc("AccessDenied")}}, 1, errRefused},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeS3{answers: c.answers}
			b, err := New(config(f, "us-east-1"), "b")
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.Get(t.Context(), "k")
			switch {
			case c.want == nil && err != nil, c.want == errRefused && !isAccessDenied(err), c.want != nil && c.want != errRefused && !errors.Is(err, c.want):
				t.Errorf("err = %v, want %v", err, c.want)
			}
			if len(f.seen) != c.requests {
				t.Errorf("%d requests, want %d", len(f.seen), c.requests)
			}
		})
	}
	var e *Error
	if err := errorOf(403, []byte(doc("AccessDenied"))); !errors.As(error(err), &e) || e.Message != "it & that" || awserr.Throttled(err) {
		t.Errorf("error document read as %+v", err)
	}
}

var errRefused = errors.New("refused")

func isAccessDenied(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == "AccessDenied" && e.Status == 403 &&
		!errors.Is(err, eventstore.ErrUnavailable) && !errors.Is(err, eventstore.ErrThrottled)
}

// withoutEndpointVariables runs the test as if the environment named no
// endpoint: the tests run under a local AWS whose AWS_ENDPOINT_URL would
// otherwise take precedence over what each case configures.
func withoutEndpointVariables(t *testing.T) {
	for _, v := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(v, "") // restored when the test ends
		os.Unsetenv(v)
	}
}
