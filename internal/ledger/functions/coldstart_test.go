package functions_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"annals/internal/ledger/functions"
	"annals/internal/localaws/lambdatest"
)

// coldStarts is how many fresh processes each function is timed over.
const coldStarts = 20

// coldPayload is an event each function answers without a call to AWS, so
// that what is timed is the start of the process, its wiring and its first
// answer: an unmatched route for the HTTP functions, an empty batch for the
// stream consumers, an event the archiver refuses (coldRefused) before it
// reads anything.
var coldPayload = map[string]string{
	"ArchiverFunction":  `{"closedBefore":"yesterday"}`,
	"CommandFunction":   `{"version":"2.0","routeKey":"$default","rawPath":"/nowhere","requestContext":{"http":{"method":"GET","path":"/nowhere"}}}`,
	"QueryFunction":     `{"version":"2.0","routeKey":"$default","rawPath":"/nowhere","requestContext":{"http":{"method":"GET","path":"/nowhere"}}}`,
	"FanoutFunction":    `{"Records":[]}`,
	"ProjectorFunction": `{"Records":[]}`,
	"TransfersFunction": `{"Records":[]}`,
}

// coldRefused are the functions whose cold payload is refused: its answer
// is a function error, as Lambda records an invocation that failed.
var coldRefused = map[string]bool{"ArchiverFunction": true}

// BenchmarkColdStart times, for each function, the start of a fresh
// bootstrap under the emulator to its first response: the emulator starts
// the function's process on the first invocation, as Lambda does for a cold
// start. It reports the median (p50) and the slowest of coldStarts fresh
// processes; run it with -benchtime=1x (make bench does).
func BenchmarkColdStart(b *testing.B) {
	ids := templateFunctions(b)
	slices.Sort(ids)
	for _, id := range ids {
		payload, ok := coldPayload[id]
		if !ok {
			b.Fatalf("%s: no cold-start payload in coldstart_test.go", id)
		}
		// What Lambda sets: a region and the execution role's credentials.
		// AWS_CA_BUNDLE is cleared: Lambda sets none, and a bundle on the
		// machine running the benchmark (a proxy's) would be read at every
		// start by the SDK's default configuration, about 11 ms of it.
		env := map[string]string{
			"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "cold-start", "AWS_SECRET_ACCESS_KEY": "cold-start",
			"AWS_SESSION_TOKEN": "cold-start", "LOG_LEVEL": "warn", "AWS_CA_BUNDLE": "",
		}
		for _, v := range functions.Manifests()[id].Env {
			if v.Ref != "" {
				env[v.Name] = "cold-start"
			}
		}
		bootstrap := lambdatest.Build(b, id)
		info, err := os.Stat(bootstrap)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(id, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				times = times[:0]
				for range coldStarts {
					e := lambdatest.Start(b, bootstrap, env)
					start := time.Now()
					if _, err := e.Invoke(context.Background(), []byte(payload)); (err != nil) != coldRefused[id] {
						b.Fatalf("%s: %v (refusal expected: %v)\n%s", id, err, coldRefused[id], e.Logs())
					}
					times = append(times, time.Since(start))
					e.Stop()
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "max-ms")
			b.ReportMetric(float64(info.Size())/1e6, "host-binary-MB")
		})
	}
}
