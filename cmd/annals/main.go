// Command annals is the operator's tool for the deployed (or local) stack:
//
//	annals rebuild <view> [flags]   rebuild a view into a fresh table
//	annals redrive --stream KEY ... | --from-queue URL ... | --skipped [--republish]
//	annals sweep-transfers [--older-than D]   drive transfers stuck pending
//	annals soak [--url U] [--clients N] ...   load a running stack over HTTP and check it
//	annals stream show STREAM [--version N | --at T] [--json]   a stream's events and state
//	annals tail [--from latest|trim-horizon|T]   follow the events stream
//	annals quarantine list [--view V]   the streams the views quarantined
//	annals trace CORRELATION_ID [--log FILE | --insights]   the path of one command
//	annals archive --closed-before T | archive restore STREAM   move closed accounts to S3 and back
//
// It finds AWS as every SDK program does (AWS_REGION, AWS_PROFILE,
// AWS_ENDPOINT_URL, ...) and the stack's resources from flags, or from the
// same environment variables the functions read; soak needs only the
// API's URL. docs/operations.md says when and how to use each subcommand.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the operation failed, or found something wrong
	exitUsage  = 2 // the command line is wrong
)

// usageHeader names every view of the registry.
var usageHeader = `usage:
  annals rebuild <` + viewNames() + `> [flags]
  annals redrive --stream KEY (--republish [--from N] [--to M] | --lift [--view V]) [flags]
  annals redrive --from-queue URL [--view V] [flags]
  annals redrive --skipped [--republish] [flags]
  annals sweep-transfers [--older-than D] [--page N] [flags]
  annals soak [--url U] [--clients N] [--accounts N] [--duration D] [--seed N] [--converge D]
  annals stream show STREAM [--version N | --at T] [--json] [flags]
  annals tail [--from latest|trim-horizon|TIME] [--limit N] [flags]
  annals quarantine list [--view V] [flags]
  annals trace CORRELATION_ID [--log FILE | --insights [--log-groups G,...]] [flags]
  annals archive --closed-before T [--max N] [flags]
  annals archive restore STREAM [flags]

Run "annals <subcommand> -h" for its flags; docs/operations.md for when and how.
`

// usageError is a wrong command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// cli is one run's surroundings, so that tests run it in-process.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// terminal reports whether stderr is a terminal (a progress bar then,
	// plain lines otherwise).
	terminal bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := cli{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, terminal: isTerminal(os.Stderr)}
	os.Exit(c.run(ctx, os.Args[1:]))
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// run executes one command line and returns the exit code.
func (c cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usageHeader)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "rebuild":
		err = c.rebuild(ctx, args[1:])
	case "redrive":
		err = c.redrive(ctx, args[1:])
	case "sweep-transfers":
		err = c.sweepTransfers(ctx, args[1:])
	case "soak":
		err = c.soak(ctx, args[1:])
	case "stream":
		err = c.stream(ctx, args[1:])
	case "tail":
		err = c.tail(ctx, args[1:])
	case "quarantine":
		err = c.quarantine(ctx, args[1:])
	case "trace":
		err = c.trace(ctx, args[1:])
	case "archive":
		err = c.archive(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, usageHeader)
		return exitOK
	default:
		err = usagef("unknown subcommand %q", args[0])
	}
	var usage usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(c.stderr, "annals: %s\n\n%s", usage.msg, usageHeader)
		return exitUsage
	default:
		fmt.Fprintf(c.stderr, "annals: %v\n", err)
		return exitFailed
	}
}

// flags is a subcommand's flag set that reports errors as usage errors and
// takes defaults from the environment.
func (c cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("annals "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

// parse parses args, turning flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// envDefault is the flag default from an environment variable, named in
// the flag's help.
func (c cli) envDefault(name string) string { return strings.TrimSpace(c.getenv(name)) }

// required returns a usage error naming every flag left empty.
func required(fs *flag.FlagSet, env map[string]string, names ...string) error {
	var missing []string
	for _, n := range names {
		if fs.Lookup(n).Value.String() == "" {
			m := "--" + n
			if e := env[n]; e != "" {
				m += " (or " + e + ")"
			}
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		return usagef("%s: missing %s", fs.Name(), strings.Join(missing, ", "))
	}
	return nil
}
