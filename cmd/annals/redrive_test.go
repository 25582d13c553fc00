package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/storetest"
	"annals/internal/kit/fanout"
	"annals/internal/kit/fanout/fanouttest"
	"annals/internal/kit/sqsqueue"
	"annals/internal/localaws/awstest"
)

// skipCommit breaks the stream's commit at v in the events table, and has
// the fan-out meet it: the fan-out's queue then holds a letter naming it.
// It returns the commit's item as it was, to restore it.
func skipCommit(t *testing.T, f *fixture, s eventstore.StreamID, v int64, queue string) eventstore.Item {
	t.Helper()
	good := fanouttest.StoredCommit(t, f.db, f.events, s, v)
	broken := storetest.Undecodable(good)
	awstest.PutItems(t, f.db, f.events, []eventstore.Item{broken})
	h := fanout.New(fanout.Config{
		Kinesis: awstest.Kinesis(t), Stream: "unused", Skipped: sqsqueue.New(awstest.SQS(t), queue),
		Log: slog.New(slog.DiscardHandler),
	})
	if resp, err := h.Handle(t.Context(), fanouttest.Inserts(t, []eventstore.Item{broken})); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("fan-out: %+v, %v", resp, err)
	}
	return good
}

// The CLI lists the commits the fan-out skipped without taking them off
// the queue, keeps a letter whose commit the events table still cannot
// give (exit 1), and once the item is restored sends the commit and
// deletes its letter.
func TestRedriveSkippedCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1, 1)
	kin := awstest.KinesisStream(t, "EventsStream")
	queue := awstest.Queue(t, "FanoutSkippedQueue")
	env := map[string]string{"EVENTS_TABLE": f.events, "STREAM_NAME": kin, "SKIPPED_QUEUE_URL": queue}
	s := f.streams[0]
	good := skipCommit(t, f, s, 2, queue)

	for range 2 { // a listing leaves the letters where they were
		stdout, _ := runOK(t, env, "redrive", "--skipped")
		checkContains(t, "listing", stdout, s.Key()+" at 2 (undecodable: ", "no events", "1 letter(s) on "+queue)
	}

	code, stdout, stderr := runCLI(t, env, "redrive", "--skipped", "--republish", "--visibility", "1")
	if code != exitFailed {
		t.Fatalf("republish before the fix: exit %d, %s%s", code, stdout, stderr)
	}
	checkContains(t, "republish before the fix", stdout, "kept message ", "of "+s.Key()+" at 2: ", "no events", "0 deleted, 1 kept")

	awstest.PutItems(t, f.db, f.events, []eventstore.Item{good})
	// The kept letter is back once its visibility timeout (1 s) is over.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, stdout, stderr = runCLI(t, env, "redrive", "--skipped", "--republish")
		if code != exitOK || !strings.Contains(stdout, "read 0 letter(s)") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != exitOK {
		t.Fatalf("republish after the fix: exit %d, %s%s", code, stdout, stderr)
	}
	checkContains(t, "republish after the fix", stdout, "republished "+s.Key()+" at 2..2", "1 deleted, 0 kept; 1 commit(s) onto "+kin)
	recs := awstest.ReadKinesis(t, kin, 1)
	evs, err := envelope.Decode(recs[0].Data)
	if err != nil || len(recs) != 1 || evs[0].Stream != s || evs[0].Version != 2 {
		t.Errorf("records %d, first %+v (%v); want the commit at 2", len(recs), evs, err)
	}
	stdout, _ = runOK(t, env, "redrive", "--skipped")
	checkContains(t, "listing after the republish", stdout, "0 letter(s)")
}
