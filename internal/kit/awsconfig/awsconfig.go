// Package awsconfig builds a Lambda function's SDK configuration from the
// environment Lambda gives it, reads the function's own variables, and
// starts it, failing fast at start-up rather than on the first request.
// It does not link the SDK's default configuration (see defaultchain, for
// the programs a person runs): its credential chain would be about 2 MB
// of every function's binary.
package awsconfig

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// NewRetryer returns the retryer of every SDK configuration: the
// standard one with a short ceiling, since a function's caller is waiting.
func NewRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 4
		o.MaxBackoff = 500 * time.Millisecond
	})
}

// Env reads the function's environment variables, collecting every problem
// so that a misconfigured function reports all of them at once. The zero
// Env reads the process environment; NewEnv gives a function its own
// variables, as a local run hosting several functions in one process does.
type Env struct {
	vars    map[string]string
	log     *slog.Logger
	missing []string
	bad     []string
}

// NewEnv returns an Env over vars whose functions log to log.
func NewEnv(vars map[string]string, log *slog.Logger) *Env {
	return &Env{vars: vars, log: log}
}

func (e *Env) get(name string) string {
	if e.vars != nil {
		return strings.TrimSpace(e.vars[name])
	}
	return strings.TrimSpace(os.Getenv(name))
}

// Logger is the function's logger: NewEnv's, or else Logger at the level
// the environment's LOG_LEVEL names.
func (e *Env) Logger() *slog.Logger {
	if e.log == nil {
		e.log = newLogger(os.Stdout, e.get("LOG_LEVEL"))
	}
	return e.log
}

// Required returns a variable that must be set.
func (e *Env) Required(name string) string {
	v := e.get(name)
	if v == "" {
		e.missing = append(e.missing, name)
	}
	return v
}

// Optional returns a variable or its default.
func (e *Env) Optional(name, def string) string {
	if v := e.get(name); v != "" {
		return v
	}
	return def
}

// Int returns a positive integer variable or its default.
func (e *Env) Int(name string, def int) int {
	v := e.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		e.bad = append(e.bad, fmt.Sprintf("%s=%q is not a positive integer", name, v))
	}
	return n
}

// Err reports every missing or malformed variable.
func (e *Env) Err() error {
	var parts []string
	if len(e.missing) > 0 {
		parts = append(parts, "missing environment variables: "+strings.Join(e.missing, ", "))
	}
	parts = append(parts, e.bad...)
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %s", strings.Join(parts, "; "))
}
