package localsources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"annals/internal/localaws/samtemplate"
)

// fakeShard serves numbered records from memory, a few per read.
type fakeShard struct {
	recs []record
	next int
	per  int
}

func (f *fakeShard) id() string { return "shard-1" }

func (f *fakeShard) read(_ context.Context, limit int) ([]record, []any, int64, bool, error) {
	n := min(limit, f.per, len(f.recs)-f.next)
	recs := f.recs[f.next : f.next+n]
	f.next += n
	docs := make([]any, n)
	for i, r := range recs {
		docs[i] = r.event
	}
	return recs, docs, 0, false, nil
}

// fakeOps delivers events as the list of their records' sequence numbers.
type fakeOps struct{ shard *fakeShard }

func (o fakeOps) open(context.Context) (string, []reader, error) {
	return "arn:aws:kinesis:us-east-1:1:stream/s", []reader{o.shard}, nil
}
func (o fakeOps) event(recs []record) any {
	seqs := make([]string, len(recs))
	for i, r := range recs {
		seqs[i] = r.seq
	}
	return seqs
}
func (fakeOps) maxLimit() int { return 1000 }

func fakeSource(es samtemplate.EventSource, n, per int) *source {
	sh := &fakeShard{per: per}
	for i := range n {
		seq := fmt.Sprint(100 + i)
		sh.recs = append(sh.recs, record{seq: seq, event: map[string]any{"n": float64(i)}})
	}
	es.Enabled = true
	return &source{es: es, ops: fakeOps{sh}}
}

// pollAll polls until the source is idle or the attempts run out, and
// returns the batches the handler got.
func pollAll(t *testing.T, s *source, attempts int, answer func(call int, batch []string) ([]byte, error)) ([][]string, bool) {
	t.Helper()
	var batches [][]string
	h := func(_ context.Context, event []byte) ([]byte, error) {
		var batch []string
		if err := json.Unmarshal(event, &batch); err != nil {
			t.Fatal(err)
		}
		batches = append(batches, batch)
		return answer(len(batches), batch)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for range attempts {
		idle, err := s.poll(t.Context(), h, time.Second, log)
		if err != nil {
			t.Fatal(err)
		}
		if idle {
			return batches, true
		}
	}
	return batches, false
}

func failItems(seqs ...string) []byte {
	type item struct {
		ItemIdentifier string `json:"itemIdentifier"`
	}
	var resp struct {
		BatchItemFailures []item `json:"batchItemFailures"`
	}
	for _, s := range seqs {
		resp.BatchItemFailures = append(resp.BatchItemFailures, item{s})
	}
	b, _ := json.Marshal(resp)
	return b
}

func TestDeliverySemantics(t *testing.T) {
	report := []string{samtemplate.ReportBatchItemFailures}
	for _, c := range []struct {
		name        string
		es          samtemplate.EventSource
		n, per      int
		answer      func(call int, batch []string) ([]byte, error)
		want        [][]string
		wantIdle    bool
		wantFailed  int64
		wantRetries int64
	}{{
		name: "batches of at most BatchSize", es: samtemplate.EventSource{BatchSize: 2, MaximumRetryAttempts: -1}, n: 5, per: 5,
		answer: func(int, []string) ([]byte, error) { return nil, nil },
		want:   [][]string{{"100", "101"}, {"102", "103"}, {"104"}}, wantIdle: true,
	}, {
		name: "lowest reported item and what follows", es: samtemplate.EventSource{BatchSize: 3, MaximumRetryAttempts: -1, FunctionResponseTypes: report}, n: 4, per: 4,
		answer: func(call int, _ []string) ([]byte, error) {
			if call == 1 {
				return failItems("102", "101"), nil
			}
			return failItems(), nil
		},
		want: [][]string{{"100", "101", "102"}, {"101", "102", "103"}}, wantIdle: true, wantRetries: 1,
	}, {
		name: "an unknown item fails the whole batch", es: samtemplate.EventSource{BatchSize: 2, MaximumRetryAttempts: -1, FunctionResponseTypes: report}, n: 2, per: 2,
		answer: func(call int, _ []string) ([]byte, error) {
			if call == 1 {
				return failItems("999"), nil
			}
			return []byte(`{"batchItemFailures":[]}`), nil
		},
		want: [][]string{{"100", "101"}, {"100", "101"}}, wantIdle: true, wantRetries: 1,
	}, {
		name: "an empty item fails the whole batch", es: samtemplate.EventSource{BatchSize: 2, MaximumRetryAttempts: -1, FunctionResponseTypes: report}, n: 2, per: 2,
		answer: func(call int, _ []string) ([]byte, error) {
			if call == 1 {
				return []byte(`{"batchItemFailures":[{"itemIdentifier":""}]}`), nil
			}
			return nil, nil
		},
		want: [][]string{{"100", "101"}, {"100", "101"}}, wantIdle: true, wantRetries: 1,
	}, {
		name: "reported items are ignored without ReportBatchItemFailures", es: samtemplate.EventSource{BatchSize: 2, MaximumRetryAttempts: -1}, n: 2, per: 2,
		answer: func(int, []string) ([]byte, error) { return failItems("100"), nil },
		want:   [][]string{{"100", "101"}}, wantIdle: true,
	}, {
		name: "unbounded retries never give up", es: samtemplate.EventSource{BatchSize: 1, MaximumRetryAttempts: -1}, n: 1, per: 1,
		answer: func(int, []string) ([]byte, error) { return nil, errors.New("down") },
		want:   slices.Repeat([][]string{{"100"}}, 10), wantRetries: 10,
	}, {
		name: "given up without a destination, the next batch flows", es: samtemplate.EventSource{BatchSize: 1, MaximumRetryAttempts: 0}, n: 2, per: 2,
		answer: func(call int, _ []string) ([]byte, error) {
			if call == 1 {
				return nil, errors.New("poison")
			}
			return nil, nil
		},
		want: [][]string{{"100"}, {"101"}}, wantIdle: true, wantFailed: 1,
	}, {
		name: "bisect on function error", es: samtemplate.EventSource{BatchSize: 4, MaximumRetryAttempts: -1, BisectBatchOnFunctionError: true}, n: 4, per: 4,
		answer: func(_ int, batch []string) ([]byte, error) {
			if slices.Contains(batch, "103") && len(batch) > 1 {
				return nil, errors.New("103 is poison in company")
			}
			return nil, nil
		},
		want:     [][]string{{"100", "101", "102", "103"}, {"100", "101"}, {"102", "103"}, {"102"}, {"103"}},
		wantIdle: true, wantRetries: 2,
	}, {
		name: "batching window waits for a full batch", es: samtemplate.EventSource{BatchSize: 3, MaximumRetryAttempts: -1, MaximumBatchingWindowInSeconds: 60}, n: 3, per: 1,
		answer: func(int, []string) ([]byte, error) { return nil, nil },
		want:   [][]string{{"100", "101", "102"}}, wantIdle: true,
	}} {
		t.Run(c.name, func(t *testing.T) {
			s := fakeSource(c.es, c.n, c.per)
			got, idle := pollAll(t, s, 10, c.answer)
			if !slices.EqualFunc(got, c.want, slices.Equal) {
				t.Errorf("batches %v, want %v", got, c.want)
			}
			if idle != c.wantIdle {
				t.Errorf("idle = %v, want %v", idle, c.wantIdle)
			}
			st := s.stats()
			if st.Failed != c.wantFailed || st.Retries != c.wantRetries {
				t.Errorf("failed %d, retries %d; want %d, %d", st.Failed, st.Retries, c.wantFailed, c.wantRetries)
			}
			if c.wantIdle && st.Delivered+st.Failed != int64(c.n) {
				t.Errorf("delivered %d + failed %d, want %d records in all", st.Delivered, st.Failed, c.n)
			}
		})
	}
}

func TestFilteredRecordsAreCounted(t *testing.T) {
	es := samtemplate.EventSource{BatchSize: 10, MaximumRetryAttempts: -1}
	s := fakeSource(es, 6, 6)
	f, err := CompileFilter(`{"n": [{"numeric": [">=", 3]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	s.filters = []*Filter{f}
	got, idle := pollAll(t, s, 5, func(int, []string) ([]byte, error) { return nil, nil })
	if !idle || !slices.EqualFunc(got, [][]string{{"103", "104", "105"}}, slices.Equal) {
		t.Errorf("batches %v (idle %v), want only the records with n >= 3", got, idle)
	}
	if st := s.stats(); st.Seen != 6 || st.Filtered != 3 || st.Delivered != 3 {
		t.Errorf("stats %+v; want 6 seen, 3 filtered, 3 delivered", st)
	}
}

func TestNewChecksSources(t *testing.T) {
	base := samtemplate.EventSource{Function: "F", Event: "E", Kind: samtemplate.KindKinesis, Source: "S", BatchSize: 1}
	for _, c := range []struct {
		name string
		edit func(*samtemplate.EventSource, *Config)
	}{
		{"no physical name", func(es *samtemplate.EventSource, c *Config) { c.Names = nil }},
		{"no queue name", func(es *samtemplate.EventSource, c *Config) { es.OnFailure = "Q" }},
		{"bad filter", func(es *samtemplate.EventSource, c *Config) { es.Filters = []string{`{"a": 1}`} }},
		{"no client", func(es *samtemplate.EventSource, c *Config) { c.Kinesis = nil }},
		{"dynamodb without clients", func(es *samtemplate.EventSource, c *Config) { es.Kind = samtemplate.KindDynamoDB }},
	} {
		t.Run(c.name, func(t *testing.T) {
			es := base
			cfg := Config{Names: map[string]string{"S": "s"}, Kinesis: nilKinesis{}}
			c.edit(&es, &cfg)
			cfg.Sources = []samtemplate.EventSource{es}
			if _, err := New(cfg); err == nil {
				t.Error("New accepted the source")
			}
		})
	}
}

type nilKinesis struct{ Kinesis }
