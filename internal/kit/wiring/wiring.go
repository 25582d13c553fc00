// Package wiring is what every function's wiring shares: the manifest of
// the variables and access a function uses, and the reading of its
// environment through it, so that code, manifest and template.yaml cannot
// drift apart. An application's wirings build on it, one package per
// function, so that a Lambda binary links only its own handler and SDK
// clients.
package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/uuid"

	"annals/internal/kit/awsconfig"
	"annals/internal/kit/emf"
)

// Builder builds a function's handler from its environment, read through
// its manifest.
type Builder func(ctx context.Context, v *Vars, cfg aws.Config) (handler any, err error)

// Function wires the function with this logical id in template.yaml: b
// reads the function's variables through its manifest, and any drift
// between the two fails the wiring.
func Function(id string, m Manifest, b Builder) awsconfig.Wire {
	return func(ctx context.Context, env *awsconfig.Env, cfg aws.Config) (any, error) {
		v := newVars(id, m, env)
		h, err := b(ctx, v, cfg)
		if err != nil {
			// Drift is reported too: it may be why the build failed.
			return nil, errors.Join(v.err(), fmt.Errorf("%s: %w", id, err))
		}
		if err := v.err(); err != nil {
			return nil, err
		}
		return h, nil
	}
}

// NewID generates the ids of events and commands: UUIDv7, time-ordered.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// Vars reads one function's environment through its manifest. A name the
// manifest does not list, a required variable the template does not set,
// or a listed variable the wiring never reads is a wiring error: code and
// manifest cannot drift apart.
type Vars struct {
	function string
	env      *awsconfig.Env
	listed   map[string]Var
	read     map[string]bool
	problems []string
}

// Read returns the variables of the function with this logical id, read
// from env through its manifest, for a program that builds the function's
// parts without serving it (a CLI that drives the same code with the same
// settings). Err then says what drifted or is missing.
func Read(function string, m Manifest, env *awsconfig.Env) *Vars { return newVars(function, m, env) }

// Err reports every drift between the reads and the manifest, and every
// variable missing or malformed.
func (v *Vars) Err() error { return errors.Join(v.err(), v.env.Err()) }

func newVars(function string, m Manifest, env *awsconfig.Env) *Vars {
	v := &Vars{function: function, env: env, listed: map[string]Var{}, read: map[string]bool{}}
	if len(m.Env) == 0 && len(m.Grants) == 0 {
		v.problems = append(v.problems, "no manifest")
	}
	for _, e := range m.Env {
		v.listed[e.Name] = e
	}
	return v
}

func (v *Vars) check(name string, required bool) {
	v.read[name] = true
	e, ok := v.listed[name]
	switch {
	case !ok:
		v.problems = append(v.problems, "reads "+name+", which its manifest does not list")
	case required && e.Ref == "":
		v.problems = append(v.problems, "requires "+name+", which its manifest says the template leaves unset")
	}
}

// Required returns a variable the template must set.
func (v *Vars) Required(name string) string {
	v.check(name, true)
	return v.env.Required(name)
}

// Optional returns a variable or its default.
func (v *Vars) Optional(name, def string) string {
	v.check(name, false)
	return v.env.Optional(name, def)
}

// Int returns a positive integer variable or its default.
func (v *Vars) Int(name string, def int) int {
	v.check(name, false)
	return v.env.Int(name, def)
}

// Logger is the function's logger.
func (v *Vars) Logger() *slog.Logger { return v.env.Logger() }

// Metrics declares the function's metrics (emf) in namespace, recorded by
// FunctionName: the function's name as Lambda gives it, unique to its
// stack as in Lambda's own metrics, or its logical id where Lambda does
// not run it.
func (v *Vars) Metrics(namespace string) *emf.Metrics {
	return emf.New(namespace, emf.Dimension{Name: "FunctionName", Value: v.env.Optional("AWS_LAMBDA_FUNCTION_NAME", v.function)})
}

func (v *Vars) err() error {
	problems := slices.Clone(v.problems)
	for name := range v.listed {
		if !v.read[name] {
			problems = append(problems, "lists "+name+", which its wiring never reads")
		}
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	return fmt.Errorf("%s: %s", v.function, strings.Join(slices.Compact(problems), "; "))
}
