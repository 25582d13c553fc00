package stacktest_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"annals/internal/localaws/localstack"
)

// schemathesisChecks are the checks every answer must pass: no 5xx, a
// status the document lists for the operation, with its content type, its
// headers and a body its schema takes.
const schemathesisChecks = "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance"

// Schemathesis, an outside fuzzer that knows the API only from its
// OpenAPI document, holds the running stack to it: it reads the document
// the stack serves, sends every operation examples, boundary values and
// generated requests (valid and not), then follows the document's links
// (open an account, then deposit to, withdraw from, read and close the
// account it answered), and checks every answer. make test runs it for
// tens of seconds with a fixed seed, LONG=1 for minutes with a random one.
//
// It does not run in parallel with the package's other stacks: they share
// one single-threaded moto, and under their load the stack's reads can
// time out into 503s, which Schemathesis rightly counts as server errors.
func TestTheStackKeepsItsContract(t *testing.T) {
	st := os.Getenv("ANNALS_SCHEMATHESIS")
	if st == "" {
		t.Fatal("ANNALS_SCHEMATHESIS is not set: run `make test`, or `make tools` and set it to what `make -s schemathesis-path` prints")
	}
	examples, seed, phases := 25, uint64(1), "examples,fuzzing,stateful"
	if long() {
		examples, seed, phases = 150, rand.Uint64N(1<<31), "examples,coverage,fuzzing,stateful"
	}
	s, logs := startStack(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, st, "run", s.URL+localstack.DocumentPath,
		"--url", s.URL,
		"--checks", schemathesisChecks,
		// The coverage phase (every boundary of every schema, some 90 s)
		// runs under LONG=1 only; examples, generated requests and the
		// links are enough to hold every route to the document.
		"--phases", phases,
		"--request-timeout", "30",
		"--max-examples", strconv.Itoa(examples),
		"--seed", strconv.FormatUint(seed, 10),
		"--workers", "1",
		// The local stack acts for its tenant without a token; API
		// Gateway would verify this one.
		"--header", "Authorization: Bearer local",
		"--generation-database", "none",
		"--no-color",
		"--report", "vcr", "--report-vcr-path", filepath.Join(dir, "cassette.yaml"),
	)
	// Schemathesis reads a config file from where it runs: it runs where
	// there is none, and leaves nothing in the project.
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("schemathesis (seed %d, %d examples an operation) ran %s", seed, examples, time.Since(start).Round(time.Second))
	if err != nil {
		t.Errorf("schemathesis: %v\n%s", err, out)
		t.Logf("stack logs:\n%s", logs.String())
		return
	}
	summary := regexp.MustCompile(`(\d+) generated, (\d+) passed`).FindSubmatch(out)
	links := regexp.MustCompile(`API Links:\s+(\d+) covered`).FindSubmatch(out)
	if summary == nil || links == nil {
		t.Fatalf("schemathesis's summary has no test case count or link coverage:\n%s", out)
	}
	t.Logf("%s test cases, %s links followed", summary[1], links[1])
	if n, _ := strconv.Atoi(string(links[1])); n == 0 {
		t.Errorf("the stateful phase followed no link:\n%s", out)
	}

	// The links were followed with what the stack answered: the stateful
	// phase sent requests to the accounts it had opened (deposits among
	// them, when its random walk took that link), and some were answered
	// 2xx. Most of its deposits are refused: it sends JSON Schema's
	// integers, 454.0 among them, which the API refuses as amounts.
	cassette := readCassette(t, filepath.Join(dir, "cassette.yaml"))
	opened := map[string]bool{}
	linked, linkedOK, deposits, statuses := 0, 0, 0, map[int]int{}
	onAccount := regexp.MustCompile(`^/accounts/([^/?]+)(/[a-z]+)?$`)
	for _, it := range cassette.Interactions {
		if it.Response == nil {
			continue
		}
		status, _ := strconv.Atoi(it.Response.Status.Code)
		statuses[status/100]++
		if it.Phase.Name != "stateful" {
			continue
		}
		path := it.Request.path(t)
		if it.Request.Method == http.MethodPost && path == "/accounts" && status == http.StatusCreated {
			var b struct {
				AccountID string `json:"accountId"`
			}
			if err := json.Unmarshal([]byte(it.Response.Body.String), &b); err == nil {
				opened[b.AccountID] = true
			}
			continue
		}
		if m := onAccount.FindStringSubmatch(path); m != nil && opened[m[1]] {
			linked++
			if m[2] == "/deposits" {
				deposits++
			}
			if status/100 == 2 {
				linkedOK++
			}
		}
	}
	t.Logf("%d requests by status class %v; the stateful phase opened %d accounts and sent %d requests to them (%d deposits), %d answered 2xx",
		len(cassette.Interactions), statuses, len(opened), linked, deposits, linkedOK)
	if len(opened) == 0 || linkedOK == 0 {
		t.Errorf("the stateful phase did not follow the links from the accounts it opened")
	}
	if statuses[2] == 0 || statuses[4] == 0 || statuses[5] != 0 {
		t.Errorf("answers by status class %v: want successes and refusals, and no 5xx", statuses)
	}
}

// cassette is what Schemathesis's VCR report holds of each request.
type cassette struct {
	Interactions []struct {
		Phase struct {
			Name string `yaml:"name"`
		} `yaml:"phase"`
		Request  cassetteRequest `yaml:"request"`
		Response *struct {
			Status struct {
				Code string `yaml:"code"`
			} `yaml:"status"`
			Body struct {
				String string `yaml:"string"`
			} `yaml:"body"`
		} `yaml:"response"`
	} `yaml:"http_interactions"`
}

type cassetteRequest struct {
	URI    string `yaml:"uri"`
	Method string `yaml:"method"`
}

func (r cassetteRequest) path(t *testing.T) string {
	t.Helper()
	i := strings.Index(r.URI, "://")
	if i < 0 {
		t.Fatalf("request URI %q", r.URI)
	}
	rest := r.URI[i+3:]
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		rest = rest[j:]
	} else {
		rest = "/"
	}
	path, _, _ := strings.Cut(rest, "?")
	return path
}

func readCassette(t *testing.T, path string) cassette {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("schemathesis wrote no report: %v", err)
	}
	var c cassette
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("schemathesis's report: %v", err)
	}
	if len(c.Interactions) == 0 {
		t.Fatalf("schemathesis's report holds no request (%d bytes)", len(raw))
	}
	return c
}
