package localstack_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"annals/internal/demo"
)

// openAccount opens an account on the stack and returns its id.
func openAccount(b testing.TB, url, owner string) string {
	b.Helper()
	status, body := request(b, url, "POST", "/accounts", fmt.Sprintf(`{"owner":%q,"currency":"EUR"}`, owner))
	if status != http.StatusCreated {
		b.Fatalf("open: %d %s", status, body)
	}
	var out struct {
		AccountID string `json:"accountId"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		b.Fatal(err)
	}
	return out.AccountID
}

// viewVersion reads the account view's version (0 before it exists).
func viewVersion(b testing.TB, url, id string) int64 {
	b.Helper()
	status, body := request(b, url, "GET", "/accounts/"+id, "")
	if status == http.StatusNotFound {
		return 0
	}
	var out struct {
		Version int64 `json:"version"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil {
		b.Fatalf("view: %d %s", status, body)
	}
	return out.Version
}

// Command-to-view latency: from a deposit's answer to the account view
// showing its version, through moto's stream, the fan-out, Kinesis and
// the projector. One command at a time.
func BenchmarkCommandToView(b *testing.B) {
	s, _ := startStack(b)
	id := openAccount(b, s.URL, "bench")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		status, body := request(b, s.URL, "POST", "/accounts/"+id+"/deposits", `{"amount":1}`)
		if status != http.StatusOK {
			b.Fatalf("deposit: %d %s", status, body)
		}
		answered := time.Now()
		want := int64(i + 2)
		// Reads share moto with the pipeline: poll gently.
		for viewVersion(b, s.URL, id) < want {
			if time.Since(answered) > 30*time.Second {
				b.Fatalf("the view never reached version %d", want)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(answered))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// Sustained commands: 8 clients depositing into their own accounts as fast
// as the stack answers.
func BenchmarkSustainedCommands(b *testing.B) {
	s, _ := startStack(b)
	const clients = 8
	ids := make([]string, clients)
	for c := range ids {
		ids[c] = openAccount(b, s.URL, fmt.Sprint("bench-", c))
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				// Not request: a goroutine of its own may not end the benchmark.
				resp, body, err := demo.Send(b.Context(), http.DefaultClient, s.URL, "POST", "/accounts/"+ids[c]+"/deposits", `{"amount":1}`)
				if err != nil {
					b.Error(err)
					return
				}
				if resp.StatusCode != http.StatusOK {
					b.Errorf("deposit: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commands/s")
}
