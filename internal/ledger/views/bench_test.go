package views_test

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/projection"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
)

// benchBatch appends, outside the timer, 100/perStream new accounts of
// perStream one-event commits each (an opening, then deposits) and returns
// their records interleaved as a shard would carry them: 100 records, 100
// events.
func benchBatch(b *testing.B, store *eventstore.Store, round, perStream int) events.KinesisEvent {
	b.Helper()
	accounts := make([]*writer, 100/perStream)
	for i := range accounts {
		accounts[i] = newAccount(b, fmt.Sprintf("b%d-%d", round, i))
	}
	var records []events.KinesisEventRecord
	for step := range perStream {
		for _, a := range accounts {
			var c eventstore.Committed
			if step == 0 {
				c = a.open(b, store, "owner")
			} else {
				c = a.deposit(b, store, 5)
			}
			records = append(records, record(b, len(records)+1, c))
		}
	}
	return batch(records...)
}

// runProjector applies b.N batches of 100 events through both views and
// reports events/s.
func runProjector(b *testing.B, store *eventstore.Store, h *projection.Handler, perStream int) {
	var elapsed time.Duration
	for i := range b.N {
		ev := benchBatch(b, store, i, perStream)
		start := time.Now()
		resp, err := h.Handle(b.Context(), ev)
		elapsed += time.Since(start)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			b.Fatalf("batch %d: %+v, %v", i, resp, err)
		}
	}
	b.ReportMetric(float64(b.N*100)/elapsed.Seconds(), "events/s")
}

// BenchmarkProjector applies batches of 100 one-event records through both
// views, with 10 or 2 records of each stream per batch: the projector reads
// and writes each view once per stream and batch, so the requests per
// event follow the records per stream.
func BenchmarkProjector(b *testing.B) {
	for _, perStream := range []int{10, 2} {
		b.Run(fmt.Sprintf("per-stream=%d", perStream), func(b *testing.B) { benchmarkProjector(b, perStream) })
	}
}

func benchmarkProjector(b *testing.B, perStream int) {
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	b.Run("memory", func(b *testing.B) {
		store := newEvents()
		dead := projection.NewDeadLetters(&projection.LetterBox{})
		h := projection.NewHandler(views.Decode, dead, quiet,
			views.NewAccounts(views.NewMemoryAccounts(), store, dead, quiet),
			views.NewHistory(views.NewMemoryHistory(), store, dead, quiet))
		b.ResetTimer()
		runProjector(b, store, h, perStream)
	})
	b.Run("moto", func(b *testing.B) {
		db := awstest.DynamoDB(b)
		store := eventstore.New(dynamostore.New(db, awstest.Table(b, db, "EventsTable")))
		w := awstest.NewWire()
		viewDB := awstest.DynamoDBOver(b, w, 3)
		dead := projection.NewDeadLetters(&projection.LetterBox{})
		h := projection.NewHandler(views.Decode, dead, quiet,
			views.NewAccounts(views.NewDynamoAccounts(viewDB, awstest.Table(b, db, "AccountsTable")), store, dead, quiet),
			views.NewHistory(views.NewDynamoHistory(viewDB, awstest.Table(b, db, "HistoryTable")), store, dead, quiet))
		b.ResetTimer()
		runProjector(b, store, h, perStream)
		b.StopTimer()
		events := float64(b.N * 100)
		total := 0
		for op, n := range w.Counts() {
			total += n
			b.ReportMetric(float64(n)/events, op+"/event")
		}
		b.ReportMetric(float64(total)/events, "requests/event")
	})
}
