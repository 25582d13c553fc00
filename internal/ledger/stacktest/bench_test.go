package stacktest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"annals/internal/ledger/demo"
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
// as the stack answers, then the time the views take to show every
// client's last deposit once the load stops. The local server's counters
// say which requests each command caused, end to end.
func BenchmarkSustainedCommands(b *testing.B) {
	s, _ := startStack(b)
	const clients = 8
	ids := make([]string, clients)
	for c := range ids {
		ids[c] = openAccount(b, s.URL, fmt.Sprint("bench-", c))
	}
	opened := time.Now()
	for _, id := range ids {
		for viewVersion(b, s.URL, id) < 1 {
			if time.Since(opened) > 30*time.Second {
				b.Fatalf("the view never showed account %s", id)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	before := motoStats(b)
	var next atomic.Int64
	last := make([]int64, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
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
				last[c]++
			}
		})
	}
	wg.Wait()
	loaded := time.Since(start)
	for c, id := range ids {
		for viewVersion(b, s.URL, id) < last[c]+1 {
			if time.Since(start) > loaded+time.Minute {
				b.Fatalf("the view of %s never reached version %d", id, last[c]+1)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	caughtUp := time.Since(start) - loaded
	b.StopTimer()
	b.ReportMetric(float64(b.N)/loaded.Seconds(), "commands/s")
	b.ReportMetric(float64(caughtUp.Microseconds())/1000, "catchup-ms")
	for op, n := range motoStats(b).since(before) {
		if per := float64(n) / float64(b.N); per >= 0.005 {
			b.ReportMetric(per, op+"/cmd")
		}
	}
}

// motoCounts is the local server's count of requests per operation
// (tools/moto_launcher.py's counters).
type motoCounts map[string]int

func motoStats(b *testing.B) motoCounts {
	b.Helper()
	resp, err := http.Get(os.Getenv("AWS_ENDPOINT_URL") + "/moto-api/annals/stats")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var stats map[string]struct {
		Count int `json:"count"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		b.Fatal(err)
	}
	out := motoCounts{}
	for op, st := range stats {
		out[op] = st.Count
	}
	return out
}

func (m motoCounts) since(before motoCounts) motoCounts {
	out := motoCounts{}
	for op, n := range m {
		if d := n - before[op]; d > 0 {
			out[op] = d
		}
	}
	return out
}
