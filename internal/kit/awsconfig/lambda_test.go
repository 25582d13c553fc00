package awsconfig_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/kit/awsconfig"
	"annals/internal/kit/awsconfig/defaultchain"
)

// isolate unsets every AWS_ variable of the process for the test and
// points the default chain's files nowhere, so that only what the test
// sets is read.
func isolate(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") {
			t.Setenv(name, "") // restored when the test ends
			os.Unsetenv(name)
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
}

// lambdaEnv is what Lambda sets, without endpoints.
func lambdaEnv(t *testing.T) {
	t.Helper()
	isolate(t)
	t.Setenv("AWS_REGION", "eu-west-2")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLAMBDA")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "token")
}

// endpoints returns the base endpoint each service client built from cfg
// resolves ("" for the service's own on AWS).
func endpoints(cfg aws.Config) map[string]string {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return map[string]string{
		"dynamodb": deref(dynamodb.NewFromConfig(cfg).Options().BaseEndpoint),
		"streams":  deref(dynamodbstreams.NewFromConfig(cfg).Options().BaseEndpoint),
		"kinesis":  deref(kinesis.NewFromConfig(cfg).Options().BaseEndpoint),
		"sqs":      deref(sqs.NewFromConfig(cfg).Options().BaseEndpoint),
	}
}

// Every endpoint variable reaches the service clients as under the SDK's
// default configuration: the per-service one over AWS_ENDPOINT_URL, for
// its own service only, and none under AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func TestLoadLambdaHonoursTheEndpointVariables(t *testing.T) {
	const all, own = "http://127.0.0.1:4566", "http://127.0.0.1:"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want map[string]string
	}{
		{"none", nil, map[string]string{}},
		{"AWS_ENDPOINT_URL", map[string]string{"AWS_ENDPOINT_URL": all},
			map[string]string{"dynamodb": all, "streams": all, "kinesis": all, "sqs": all}},
		{"each service's own", map[string]string{
			"AWS_ENDPOINT_URL_DYNAMODB": own + "1", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": own + "2",
			"AWS_ENDPOINT_URL_KINESIS": own + "3", "AWS_ENDPOINT_URL_SQS": own + "4",
		}, map[string]string{"dynamodb": own + "1", "streams": own + "2", "kinesis": own + "3", "sqs": own + "4"}},
		{"a service's own over AWS_ENDPOINT_URL", map[string]string{
			"AWS_ENDPOINT_URL": all, "AWS_ENDPOINT_URL_DYNAMODB": own + "1", "AWS_ENDPOINT_URL_SQS": own + "4",
		}, map[string]string{"dynamodb": own + "1", "streams": all, "kinesis": all, "sqs": own + "4"}},
		{"DynamoDB Streams' own, not DynamoDB's", map[string]string{"AWS_ENDPOINT_URL_DYNAMODB_STREAMS": own + "2"},
			map[string]string{"streams": own + "2"}},
		{"ignored", map[string]string{
			"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
			"AWS_ENDPOINT_URL":                    all, "AWS_ENDPOINT_URL_KINESIS": own + "3",
		}, map[string]string{}},
		{"not ignored", map[string]string{
			"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "FALSE",
			"AWS_ENDPOINT_URL":                    all, "AWS_ENDPOINT_URL_KINESIS": own + "3",
		}, map[string]string{"dynamodb": all, "streams": all, "kinesis": own + "3", "sqs": all}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lambdaEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := awsconfig.LoadLambda()
			if err != nil {
				t.Fatal(err)
			}
			got := endpoints(cfg)
			for _, service := range []string{"dynamodb", "streams", "kinesis", "sqs"} {
				if got[service] != tc.want[service] {
					t.Errorf("%s endpoint = %q, want %q", service, got[service], tc.want[service])
				}
			}
			// The CLI and the local stack read the same variables the
			// same way.
			full, err := defaultchain.Load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if byDefault := endpoints(full); !reflect.DeepEqual(got, byDefault) {
				t.Errorf("endpoints %v, the default configuration's %v", got, byDefault)
			}
		})
	}
}

// The credentials are the environment's, and the rest of the configuration
// is the default chain's: region, retries, HTTP client.
func TestLoadLambdaReadsTheEnvironment(t *testing.T) {
	lambdaEnv(t)
	cfg, err := awsconfig.LoadLambda()
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != "AKIDLAMBDA" || creds.SecretAccessKey != "secret" || creds.SessionToken != "token" || creds.CanExpire {
		t.Errorf("credentials %+v, want the environment's, never expiring", creds)
	}
	full, err := defaultchain.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-2" || cfg.Region != full.Region {
		t.Errorf("region %q, the default configuration's %q, want eu-west-2", cfg.Region, full.Region)
	}
	if got, want := cfg.Retryer().MaxAttempts(), full.Retryer().MaxAttempts(); got != want || got != awsconfig.NewRetryer().MaxAttempts() {
		t.Errorf("retryer makes %d attempts, the default configuration's %d", got, want)
	}
	if got, want := reflect.TypeOf(cfg.HTTPClient), reflect.TypeOf(awsconfig.SafeBodies(nil)); got != want {
		t.Errorf("HTTP client %v, want SafeBodies' %v", got, want)
	}

	// AWS_DEFAULT_REGION when AWS_REGION is unset, as the SDK reads them.
	t.Setenv("AWS_DEFAULT_REGION", "ap-south-1")
	os.Unsetenv("AWS_REGION")
	if cfg, err := awsconfig.LoadLambda(); err != nil || cfg.Region != "ap-south-1" {
		t.Errorf("region %q (%v), want AWS_DEFAULT_REGION's", cfg.Region, err)
	}
	t.Setenv("AWS_REGION", "eu-west-2")
	if cfg, err := awsconfig.LoadLambda(); err != nil || cfg.Region != "eu-west-2" {
		t.Errorf("region %q (%v), want AWS_REGION's over AWS_DEFAULT_REGION's", cfg.Region, err)
	}
}

// A request made with the configuration carries the environment's
// credentials and region to the configured endpoint.
func TestLoadLambdaSignsWithTheEnvironmentsCredentials(t *testing.T) {
	lambdaEnv(t)
	type seen struct{ auth, token string }
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token")}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{"TableNames":[]}`))
	}))
	defer srv.Close()
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // not DynamoDB's: its own wins
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", srv.URL)
	cfg, err := awsconfig.LoadLambda()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if !strings.Contains(s.auth, "Credential=AKIDLAMBDA/") || !strings.Contains(s.auth, "/eu-west-2/dynamodb/") || s.token != "token" {
		t.Errorf("Authorization %q, token %q: want AKIDLAMBDA's signature for eu-west-2 and the session token", s.auth, s.token)
	}
}

// A function without region or credentials stops at start, saying what is
// missing, rather than failing its first call to AWS.
func TestLoadLambdaFailsWithoutRegionOrCredentials(t *testing.T) {
	for _, tc := range []struct {
		name  string
		unset []string
		set   map[string]string
		want  []string
	}{
		{"no region", []string{"AWS_REGION"}, nil, []string{"no region", "AWS_REGION"}},
		{"no key", []string{"AWS_ACCESS_KEY_ID"}, nil, []string{"no credentials", "AWS_ACCESS_KEY_ID"}},
		{"no secret", []string{"AWS_SECRET_ACCESS_KEY"}, nil, []string{"no credentials", "AWS_SECRET_ACCESS_KEY"}},
		{"neither", []string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, nil, []string{"no region", "no credentials"}},
		{"container credentials", []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"},
			map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9001/2021-04-23/credentials"},
			[]string{"no credentials", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "not read"}},
		{"malformed flag", nil, map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "yes"},
			[]string{`AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="yes"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lambdaEnv(t)
			for _, k := range tc.unset {
				os.Unsetenv(k)
			}
			for k, v := range tc.set {
				t.Setenv(k, v)
			}
			_, err := awsconfig.LoadLambda()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
