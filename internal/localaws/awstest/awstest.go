// Package awstest connects integration tests to the local servers that speak
// the AWS protocols (moto, started by the Makefile), and creates each test's
// own resources from the definitions in template.yaml.
//
// The endpoint comes from the SDK's standard AWS_ENDPOINT_URL variables, as
// it would for any other code. A test that needs the servers and finds none
// fails with instructions; it never skips.
package awstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"annals/internal/kit/awsconfig"
	"annals/internal/localaws/samtemplate"
)

// ErrNoEndpoint explains how to give tests a local AWS endpoint.
var ErrNoEndpoint = errors.New("no local AWS endpoint: run the tests with `make test`, " +
	"or start moto with `make moto` in another shell and export the variables it prints " +
	"(AWS_ENDPOINT_URL, AWS_REGION and credentials)")

// CheckEndpoint reports ErrNoEndpoint unless an AWS endpoint variable is set
// for the given service (e.g. "DYNAMODB") or for all services.
func CheckEndpoint(service string) error {
	if os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_"+service) != "" {
		return nil
	}
	return ErrNoEndpoint
}

// Config returns an SDK configuration for the local servers, or fails the
// test when none is configured. service names the endpoint variable suffix
// checked besides AWS_ENDPOINT_URL ("DYNAMODB", "KINESIS", "SQS", ...).
func Config(t testing.TB, service string) aws.Config {
	t.Helper()
	if err := CheckEndpoint(service); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	// As the functions and the CLI have it (awsconfig.LoadLambda, defaultchain.Load).
	cfg.HTTPClient = awsconfig.SafeBodies(cfg.HTTPClient)
	if cfg.Region == "" {
		t.Fatal("AWS_REGION is not set; " + ErrNoEndpoint.Error())
	}
	return cfg
}

var (
	templateOnce sync.Once
	template     *samtemplate.Template
	templateErr  error
)

// Template returns the project's template.yaml, parsed once per test binary.
func Template(t testing.TB) *samtemplate.Template {
	t.Helper()
	templateOnce.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			templateErr = err
			return
		}
		template, templateErr = samtemplate.LoadProject(wd)
	})
	if templateErr != nil {
		t.Fatalf("template.yaml: %v", templateErr)
	}
	return template
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// Name returns a resource name unique to this test and this run, readable
// enough to find the test that made it: prefix, test name, random suffix.
func Name(t testing.TB, prefix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := unsafeName.ReplaceAllString(t.Name(), "-")
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	return strings.Trim(prefix+"-"+name, "-.") + "-" + hex.EncodeToString(b[:])
}

// cleanupContext is for t.Cleanup functions, which run after the test's own
// context has been cancelled.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// ProjectRoot is the folder of template.yaml above the test's package.
func ProjectRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := samtemplate.ProjectRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	return root
}
