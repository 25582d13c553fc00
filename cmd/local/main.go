// Local runs the whole application on this machine, from template.yaml,
// against the AWS servers the SDK's standard variables point at (moto,
// started by `make local`): every table, stream and queue, every function,
// the stream event sources, and the HTTP API without an authorizer.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"annals/internal/kit/awsconfig"
	"annals/internal/kit/awsconfig/defaultchain"
	"annals/internal/ledger/explorer"
	"annals/internal/ledger/functions"
	"annals/internal/ledger/journey"
	"annals/internal/ledger/openapi"
	"annals/internal/ledger/views"
	"annals/internal/localaws/localstack"
	"annals/internal/localaws/samtemplate"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:3000", "where the HTTP API listens")
	tenant := flag.String("tenant", "local", "the tenant every request acts for")
	actor := flag.String("actor", "local-user", "the actor every request acts as")
	logPath := flag.String("log", ".local/annals.log", "file receiving the functions' JSON logs")
	envPath := flag.String("env", ".local/env", "file receiving the variables that point the operator's tool (cmd/annals) at this stack, for `. .local/env`")
	every := flag.Duration("status", 2*time.Second, "how often the status is printed (0: never)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	tpl, err := samtemplate.LoadProject(wd)
	if err != nil {
		return err
	}
	document, err := openapi.Load(wd)
	if err != nil {
		return err
	}
	cfg, err := defaultchain.Load(ctx)
	if err != nil {
		return err
	}
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		return errors.New("AWS_ENDPOINT_URL is not set: run `make local`, which starts moto and points the stack at it")
	}
	if err := os.MkdirAll(filepath.Dir(*logPath), 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()

	started := time.Now()
	stack, err := localstack.Start(ctx, localstack.Config{
		Functions: functions.Wires(),
		Template:  tpl,
		AWS:       cfg,
		Prefix:    fmt.Sprintf("annals-%d", started.Unix()),
		Addr:      *addr,
		Tenant:    *tenant,
		Actor:     *actor,
		Log:       awsconfig.NewLogger(logFile, os.Getenv("LOG_LEVEL")),
		Views:     views.Tables(),
		// The explorer, and the journey of any command it shows, read
		// from the log file the functions write to.
		Pages:   map[string]http.Handler{explorer.Path: explorer.Handler(), journey.Pattern: journey.Handler(*logPath)},
		OpenAPI: document,
	})
	if err != nil {
		return err
	}
	if err := writeEnv(*envPath, stack.Environment()); err != nil {
		_ = stack.Close()
		return err
	}
	defer os.Remove(*envPath)
	fmt.Printf("annals is up in %s\n\n  API       %s   (tenant %q, actor %q; no token needed)\n  docs      %s   (the contract: %s)\n  explorer  %s%s\n  status    %s%s\n  journey   %s%sCORRELATION_ID   (a command's path, from the logs)\n  logs      %s\n  AWS       %s\n  CLI       . %s && go run ./cmd/annals ...   (the tables, queues, stream and bucket above)\n\n",
		time.Since(started).Round(time.Millisecond), stack.URL, *tenant, *actor,
		stack.URL+localstack.DocsPath, stack.URL+localstack.DocumentPath, stack.URL, explorer.Path,
		stack.URL, localstack.StatusPath, stack.URL, journey.Path, *logPath, os.Getenv("AWS_ENDPOINT_URL"), *envPath)
	fmt.Printf("  try       curl -s -X POST %s/accounts -H 'content-type: application/json' -d '{\"owner\":\"alice\",\"currency\":\"EUR\"}'\n\nCtrl-C stops everything.\n\n", stack.URL)

	var tick <-chan time.Time
	if *every > 0 {
		t := time.NewTicker(*every)
		defer t.Stop()
		tick = t.C
	}
	last := ""
	for {
		select {
		case <-ctx.Done():
			fmt.Println("\nstopping")
			return stack.Close()
		case err := <-stack.Err():
			_ = stack.Close()
			return err
		case <-tick:
			lines := localstack.FormatStatus(stack.Status(ctx))
			if s := strings.Join(lines, "\n"); s != last {
				printStatus(os.Stdout, lines)
				last = s
			}
		}
	}
}

// writeEnv writes the stack's variables, and the AWS endpoint and
// credentials it runs against, as shell exports.
func writeEnv(path string, vars map[string]string) error {
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		vars[k] = os.Getenv(k)
	}
	var b strings.Builder
	b.WriteString("# The variables of this `make local`, for the operator's tool: . " + path + "\n")
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(vars[k], "'", `'\''`))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func printStatus(w io.Writer, lines []string) {
	fmt.Fprintf(w, "%s\n", time.Now().Format("15:04:05"))
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
}
