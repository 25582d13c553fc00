// Package s3archive keeps the event store's archives of streams in an S3
// bucket: one object per stream, written with its SHA-256 so that S3
// itself refuses a body damaged on the way.
//
// It sends the two S3 requests it needs, PutObject and GetObject, itself:
// signed with the SDK's Signature Version 4 signer, with the SDK
// configuration's credentials, region, HTTP client, retryer and endpoint
// variables, rather than through the SDK's S3 client, whose endpoint
// rules and customizations weigh over a megabyte in every binary that
// links it and would put the functions that read or write archives over
// their size target (docs/adr/0010-archives-without-the-s3-client.md).
package s3archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"

	"annals/internal/kit/awserr"
	"annals/internal/kit/eventstore"
)

// Bucket implements eventstore.ArchiveObjects.
type Bucket struct {
	name   string
	region string
	// base is the URL of the bucket: its virtual host on AWS, or the
	// configured endpoint with the bucket as the first segment of the
	// path.
	base    *url.URL
	creds   aws.CredentialsProvider
	client  aws.HTTPClient
	retryer func() aws.Retryer
	signer  *v4.Signer
	now     func() time.Time
}

var _ eventstore.ArchiveObjects = (*Bucket)(nil)

// sdkID is S3's service id, which names its endpoint variable
// (AWS_ENDPOINT_URL_S3) as the SDK's S3 client reads it.
const sdkID = "S3"

// New returns the archive objects of a bucket, reached as cfg says: the
// endpoint the SDK's S3 client would use when one is configured
// (AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL; ignored with
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), addressing the bucket in the
// path, as a local S3 serves buckets; else the bucket's own host in the
// region, https://BUCKET.s3.REGION.amazonaws.com (amazonaws.com.cn in
// China), or the regional host with the bucket in the path for a bucket
// name with dots, which a virtual host's certificate does not cover.
func New(cfg aws.Config, bucket string) (*Bucket, error) {
	if bucket == "" {
		return nil, fmt.Errorf("s3archive: %w: no bucket", eventstore.ErrInvalid)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("s3archive: no region for bucket %s", bucket)
	}
	b := &Bucket{
		name: bucket, region: cfg.Region, creds: cfg.Credentials, client: cfg.HTTPClient, retryer: cfg.Retryer,
		// S3 signs the path as sent, not escaped a second time.
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
		now:    time.Now,
	}
	if b.client == nil {
		b.client = http.DefaultClient
	}
	if b.retryer == nil {
		b.retryer = func() aws.Retryer { return retry.NewStandard() }
	}
	endpoint := configuredEndpoint(cfg)
	switch {
	case endpoint != "":
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("s3archive: the S3 endpoint %q is not a URL", endpoint)
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + "/" + bucket
		b.base = u
	case strings.Contains(bucket, "."):
		b.base = &url.URL{Scheme: "https", Host: "s3." + cfg.Region + "." + dnsSuffix(cfg.Region), Path: "/" + bucket}
	default:
		b.base = &url.URL{Scheme: "https", Host: bucket + ".s3." + cfg.Region + "." + dnsSuffix(cfg.Region)}
	}
	b.base.RawPath = escapePath(b.base.Path)
	return b, nil
}

// configuredEndpoint is the endpoint the SDK's S3 client would take from
// cfg: the service's own variable through cfg.ConfigSources (as the
// default configuration and awsconfig.LoadLambda fill them), over
// AWS_ENDPOINT_URL, which reaches cfg as its BaseEndpoint.
func configuredEndpoint(cfg aws.Config) string {
	type ignores interface {
		GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error)
	}
	type serviceEndpoint interface {
		GetServiceBaseEndpoint(context.Context, string) (string, bool, error)
	}
	endpoint := aws.ToString(cfg.BaseEndpoint)
	_, all := os.LookupEnv("AWS_ENDPOINT_URL")
	_, own := os.LookupEnv("AWS_ENDPOINT_URL_S3")
	if all && !own {
		return endpoint
	}
	for _, src := range cfg.ConfigSources {
		if i, ok := src.(ignores); ok {
			if ignore, found, _ := i.GetIgnoreConfiguredEndpoints(context.Background()); found && ignore {
				return endpoint
			}
		}
	}
	for _, src := range cfg.ConfigSources {
		if p, ok := src.(serviceEndpoint); ok {
			v, found, err := p.GetServiceBaseEndpoint(context.Background(), sdkID)
			if err != nil {
				break
			}
			if found {
				return v
			}
		}
	}
	return endpoint
}

// dnsSuffix is the domain of the region's partition: aws-cn's in China,
// aws's elsewhere. Another partition's S3 is reached through
// AWS_ENDPOINT_URL_S3.
func dnsSuffix(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// Bucket names the bucket.
func (b *Bucket) Bucket() string { return b.name }

// Put writes an object whole; a resent Put writes the same bytes.
func (b *Bucket) Put(ctx context.Context, key string, body []byte) error {
	sum := sha256.Sum256(body)
	header := http.Header{
		"Content-Type":          {"application/x-ndjson"},
		"X-Amz-Checksum-Sha256": {base64.StdEncoding.EncodeToString(sum[:])},
	}
	if _, err := b.send(ctx, http.MethodPut, key, body, header); err != nil {
		return awserr.Write(fmt.Sprintf("put s3://%s/%s", b.name, key), err)
	}
	return nil
}

// Get reads an object whole; an absent one is eventstore.ErrNotFound.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	body, err := b.send(ctx, http.MethodGet, key, nil, nil)
	if err != nil {
		if e := (*Error)(nil); errors.As(err, &e) && e.Code == "NoSuchKey" {
			return nil, fmt.Errorf("s3://%s/%s: %w", b.name, key, eventstore.ErrNotFound)
		}
		return nil, awserr.Read(fmt.Sprintf("get s3://%s/%s", b.name, key), err)
	}
	return body, nil
}

// send makes the request, and makes it again as the configuration's
// retryer says (a 5xx, a throttle, a broken connection), and returns the
// body of its answer.
func (b *Bucket) send(ctx context.Context, method, key string, body []byte, header http.Header) ([]byte, error) {
	r := b.retryer()
	for attempt := 1; ; attempt++ {
		out, err := b.sendOnce(ctx, method, key, body, header)
		if err == nil || attempt >= r.MaxAttempts() || !r.IsErrorRetryable(err) {
			return out, err
		}
		delay, derr := r.RetryDelay(attempt, err)
		if derr != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (after %v)", ctx.Err(), err)
		case <-time.After(delay):
		}
	}
}

func (b *Bucket) sendOnce(ctx context.Context, method, key string, body []byte, header http.Header) ([]byte, error) {
	u := *b.base
	u.Path += "/" + key
	u.RawPath += "/" + escapePath(key)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(body))
	for k, v := range header {
		req.Header[k] = v
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", payload)
	creds, err := b.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if err := b.signer.SignHTTP(ctx, creds, req, payload, "s3", b.region, b.now().UTC()); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, errorOf(resp.StatusCode, out)
	}
	return out, nil
}

// Error is S3's answer to a request it refused or failed: its HTTP
// status and the code and message of its XML error document. It is a
// smithy.APIError, and carries its status, so that the SDK's retryers and
// internal/kit/awserr classify it as they do the SDK's own errors.
type Error struct {
	Status        int
	Code, Message string
}

var _ smithy.APIError = (*Error)(nil)

func (e *Error) Error() string {
	return fmt.Sprintf("s3: %d %s: %s", e.Status, e.Code, e.Message)
}

func (e *Error) ErrorCode() string    { return e.Code }
func (e *Error) ErrorMessage() string { return e.Message }
func (e *Error) HTTPStatusCode() int  { return e.Status }

func (e *Error) ErrorFault() smithy.ErrorFault {
	if e.Status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

func errorOf(status int, body []byte) *Error {
	e := &Error{Status: status, Code: element(body, "Code"), Message: element(body, "Message")}
	if e.Code == "" {
		e.Code = http.StatusText(status)
	}
	return e
}

// element is the text of the first <name> element of an XML document, as
// S3's error documents hold their code and message: plain text, with
// XML's five escapes.
func element(doc []byte, name string) string {
	_, rest, ok := bytes.Cut(doc, []byte("<"+name+">"))
	if !ok {
		return ""
	}
	text, _, ok := bytes.Cut(rest, []byte("</"+name+">"))
	if !ok {
		return ""
	}
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'", "&amp;", "&").Replace(string(text))
}

// escapePath escapes a path as S3 signs it: every byte but the unreserved
// characters of RFC 3986 and the slash, as %XX.
func escapePath(p string) string {
	var sb strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "%%%02X", c)
		}
	}
	return sb.String()
}
