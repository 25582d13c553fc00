// Package lambdatest runs built function binaries the way Lambda (and `sam
// local invoke`) does, under the AWS Lambda Runtime Interface Emulator, with
// no container: build a host-architecture copy with the Makefile's own
// recipe (the same flags as the deployed arm64 binary), start the emulator on
// loopback ports of its own, and invoke it with a payload.
package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"annals/internal/kit/testlog"
	"annals/internal/localaws/awstest"
)

// ErrNoEmulator explains how to provide the emulator.
var ErrNoEmulator = errors.New("ANNALS_RIE does not name the aws-lambda-rie binary: run the tests with `make test`, " +
	"or `make tools` and export ANNALS_RIE=$(make -s rie-path)")

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// Build compiles the function with the given logical id (from template.yaml)
// for the host architecture through `make build-<LogicalId>`, once per test
// binary, and returns the path of its bootstrap.
func Build(t testing.TB, logicalID string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[logicalID]; ok {
		return p
	}
	root := awstest.ProjectRoot(t)
	dir, err := os.MkdirTemp("", "annals-"+logicalID+"-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "--no-print-directory", "-C", root, "build-"+logicalID,
		"ARTIFACTS_DIR="+dir, "LAMBDA_ARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", logicalID, err, out)
	}
	p := filepath.Join(dir, "bootstrap")
	built[logicalID] = p
	return p
}

// Emulator is one running Runtime Interface Emulator with one function.
type Emulator struct {
	URL  string
	cmd  *exec.Cmd
	logs *testlog.Buffer
	stop func()
}

// Stop ends the emulator and its function now rather than when the test
// ends, as timing many fresh starts needs.
func (e *Emulator) Stop() { e.stop() }

// Start runs bootstrap under the emulator with env added to the test's
// environment (which carries the AWS endpoint variables), and stops it when
// the test ends.
func Start(t testing.TB, bootstrap string, env map[string]string) *Emulator {
	t.Helper()
	rie := os.Getenv("ANNALS_RIE")
	if rie == "" {
		t.Fatal(ErrNoEmulator)
	}
	// A port found free can be taken by another process before the
	// emulator binds it; the emulator then dies at once, and is started
	// again on other ports.
	var last string
	for range 5 {
		e, err := start(t, rie, bootstrap, env)
		if err == nil {
			return e
		}
		last = err.Error()
	}
	t.Fatalf("the emulator did not start: %s", last)
	return nil
}

func start(t testing.TB, rie, bootstrap string, env map[string]string) (*Emulator, error) {
	api, rieAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(rie, "--log-level", "error",
		"--runtime-interface-emulator-address", rieAddr,
		"--runtime-api-address", api, bootstrap)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs := &testlog.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the emulator: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			// The emulator and the function it started share a process group.
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			return nil, fmt.Errorf("it exited: %s", logs.String())
		default:
		}
		c, err := net.DialTimeout("tcp", rieAddr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("it did not listen on %s: %v\n%s", rieAddr, err, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("emulator output:\n%s", logs.String())
		}
	})
	return &Emulator{URL: "http://" + rieAddr, cmd: cmd, logs: logs, stop: stop}, nil
}

// Invoke sends one event and returns the function's response payload.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" {
		return body, fmt.Errorf("invoke: status %d, function error %q: %s", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), body)
	}
	return body, nil
}

// Call invokes the function with payload and decodes its answer as R. An
// invocation that fails, or an answer that does not decode, fails the test
// with what the function printed.
func Call[R any](t testing.TB, e *Emulator, payload []byte) R {
	t.Helper()
	out, err := e.Invoke(t.Context(), payload)
	if err != nil {
		t.Fatalf("%v\n%s", err, e.Logs())
	}
	var r R
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	return r
}

// LogsContain polls the output for s until it appears or the wait ends:
// the function's output can reach the emulator after the invocation's
// answer.
func (e *Emulator) LogsContain(s string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for !strings.Contains(e.logs.String(), s) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Logs returns what the function and the emulator printed so far.
func (e *Emulator) Logs() string { return e.logs.String() }

var (
	portsMu sync.Mutex
	given   = map[string]bool{}
)

// freeAddr returns a loopback address no other emulator of this process
// was given: the kernel may hand a just-released port out again.
func freeAddr(t testing.TB) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if !given[addr] {
			given[addr] = true
			return addr
		}
	}
}
