// Package openapitest holds requests and responses to the API's OpenAPI
// document (api/openapi.yaml) with a maintained OpenAPI 3.1 validator,
// for tests only: no Lambda function may link it.
package openapitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"annals/internal/kit/httpapi"
	"annals/internal/ledger/openapi"
)

// Contract is the document, built once per test binary.
type Contract struct {
	// JSON is the document as the local stack serves it.
	JSON  []byte
	Model *v3.Document

	mu        sync.Mutex // the validator keeps caches of its own
	validator validator.Validator
	schemas   schema_validation.SchemaValidator
}

var (
	once     sync.Once
	loaded   *Contract
	loadErrs error
)

// Load returns the project's document, failing the test when it does not
// load, build, or validate as OpenAPI 3.1.
func Load(t testing.TB) *Contract {
	t.Helper()
	once.Do(func() { loaded, loadErrs = load() })
	if loadErrs != nil {
		t.Fatal(loadErrs)
	}
	return loaded
}

func load() (*Contract, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	src, err := openapi.Load(wd)
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocument(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", openapi.File, err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("%s does not build: %w", openapi.File, err)
	}
	opts := []config.Option{config.WithFormatAssertions(), config.WithRejectUndeclaredRequestBody()}
	v, errs := validator.NewValidator(doc, opts...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %v", openapi.File, errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("%s is not a valid OpenAPI 3.1 document: %s", openapi.File, describe(verrs))
	}
	return &Contract{JSON: src, Model: &model.Model, validator: v, schemas: schema_validation.NewSchemaValidator(opts...)}, nil
}

// Request is an API Gateway event as the HTTP request it stands for.
func Request(ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, err
		}
	}
	u := &url.URL{Scheme: "https", Host: "api.example.com", RawQuery: ev.RawQueryString}
	path, err := url.PathUnescape(ev.RawPath)
	if err != nil {
		return nil, err
	}
	u.Path, u.RawPath = path, ev.RawPath
	r, err := http.NewRequest(ev.RequestContext.HTTP.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range ev.Headers {
		r.Header.Set(k, v)
	}
	return r, nil
}

// Response is a function's payload format 2.0 response as the HTTP
// response API Gateway makes of it.
func Response(req *http.Request, resp events.APIGatewayV2HTTPResponse) (*http.Response, error) {
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return nil, err
		}
	}
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	return &http.Response{
		StatusCode: resp.StatusCode, Status: strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode),
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}, nil
}

// ValidateRequest reports what the document finds wrong with a request
// (nothing: it is one the document allows).
func (c *Contract) ValidateRequest(r *http.Request) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	r2, err := rewind(r)
	if err != nil {
		return []string{err.Error()}
	}
	if ok, errs := c.validator.ValidateHttpRequest(r2); !ok {
		return describe(errs)
	}
	return nil
}

// ValidateResponse reports what the document finds wrong with a response
// to a request of one of its operations: a status it does not give, a
// header or body that is not as it says.
func (c *Contract) ValidateResponse(r *http.Request, resp *http.Response) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	r2, err := rewind(r)
	if err != nil {
		return []string{err.Error()}
	}
	if ok, errs := c.validator.ValidateHttpResponse(r2, resp); !ok {
		return describe(errs)
	}
	return nil
}

// ValidateProblem reports what is wrong with a problem+json body by the
// document's Problem schema.
func (c *Contract) ValidateProblem(body []byte) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	proxy := c.Model.Components.Schemas.GetOrZero("Problem")
	if proxy == nil {
		return []string{"the document has no Problem schema"}
	}
	if ok, errs := c.schemas.ValidateSchemaBytes(proxy.Schema(), body); !ok {
		return describe(errs)
	}
	return nil
}

// Schema returns a schema of the document's components.
func (c *Contract) Schema(t testing.TB, name string) *base.Schema {
	t.Helper()
	proxy := c.Model.Components.Schemas.GetOrZero(name)
	if proxy == nil {
		t.Fatalf("%s has no schema %s", openapi.File, name)
	}
	return proxy.Schema()
}

// malformed are the problems of a request that is not one the API takes
// at all, whatever the data behind it: the document must refuse it too.
var malformed = []string{
	httpapi.KindValidation, httpapi.KindMalformedJSON, httpapi.KindUnsupportedMediaType,
	httpapi.KindRouteNotFound, httpapi.KindMethodNotAllowed,
}

// CheckPayload holds a golden payload, and a handler's response to it, to
// the document. The response must be one the document gives (for an
// operation it lists, that status with its headers and body; for a path
// or method it does not, a problem). The request must be one the document
// allows exactly when the handler did not refuse it as malformed; beyond,
// when not empty, says why the handler refuses a request the document
// allows (a rule no schema can state, such as two fields that must
// differ).
func (c *Contract) CheckPayload(t testing.TB, ev events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse, beyond string) {
	t.Helper()
	r, err := Request(ev)
	if err != nil {
		t.Fatal(err)
	}
	kind := problemKind(resp)
	refused := c.ValidateRequest(r)
	switch {
	case slices.Contains(malformed, kind) && beyond != "":
		if refused != nil {
			t.Errorf("the handler refused the request (%s) for a rule said to be beyond the document (%s), yet the document refuses it: %s", kind, beyond, strings.Join(refused, "; "))
		}
	case slices.Contains(malformed, kind):
		if refused == nil {
			t.Errorf("the handler refused the request as %s (%s), but %s allows it", kind, resp.Body, openapi.File)
		}
	case beyond != "":
		t.Errorf("the request is said to break a rule beyond the document (%s), but the handler answered %d %s", beyond, resp.StatusCode, resp.Body)
	case refused != nil:
		t.Errorf("the handler took the request (%d), but %s refuses it: %s", resp.StatusCode, openapi.File, strings.Join(refused, "; "))
	}

	hr, err := Response(r, resp)
	if err != nil {
		t.Fatal(err)
	}
	if kind == httpapi.KindRouteNotFound || kind == httpapi.KindMethodNotAllowed {
		// What the $default route answers: no operation to hold it to.
		if problems := c.ValidateProblem([]byte(resp.Body)); problems != nil {
			t.Errorf("%d %s is not a Problem: %s", resp.StatusCode, resp.Body, strings.Join(problems, "; "))
		}
		return
	}
	if problems := c.ValidateResponse(r, hr); problems != nil {
		t.Errorf("the response %d %v %s is not one %s gives: %s", resp.StatusCode, resp.Headers, resp.Body, openapi.File, strings.Join(problems, "; "))
	}
}

// problemKind is the kind of a problem+json response, or "".
func problemKind(resp events.APIGatewayV2HTTPResponse) string {
	ct := ""
	for k, v := range resp.Headers {
		if strings.EqualFold(k, "Content-Type") {
			ct = v
		}
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/problem+json" {
		return ""
	}
	var p struct {
		Type string `json:"type"`
	}
	if json.Unmarshal([]byte(resp.Body), &p) != nil {
		return ""
	}
	return strings.TrimPrefix(p.Type, httpapi.ProblemTypePrefix)
}

// rewind returns a copy of a request whose body can be read again.
func rewind(r *http.Request) (*http.Request, error) {
	var body []byte
	if r.GetBody != nil {
		rc, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		if body, err = io.ReadAll(rc); err != nil {
			return nil, err
		}
	} else if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	return r2, nil
}

func describe(errs []*verrors.ValidationError) []string {
	var out []string
	for _, e := range errs {
		s := e.Message
		if e.Reason != "" {
			s += ": " + e.Reason
		}
		for _, f := range e.SchemaValidationErrors {
			s += " [" + f.Error() + "]"
		}
		out = append(out, s)
	}
	return out
}
