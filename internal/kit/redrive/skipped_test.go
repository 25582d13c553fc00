package redrive_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/kit/envelope"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/eventstore/storetest"
	"annals/internal/kit/fanout"
	"annals/internal/kit/fanout/fanouttest"
	"annals/internal/kit/projection/notebooktest"
	"annals/internal/kit/redrive"
	"annals/internal/kit/sqsqueue"
	"annals/internal/localaws/awstest"
)

// commitItem reads the stored item of the stream's commit at version v
// listed waits until a listing of the queue shows n letters (letters a run
// kept are hidden for its visibility), and returns them.
func listed(t *testing.T, url string, n int) []redrive.Letter {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		letters, err := redrive.ListSkipped(t.Context(), awstest.SQS(t), url, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(letters) == n || time.Now().After(deadline) {
			if len(letters) != n {
				t.Fatalf("%d letters listed, want %d: %+v", len(letters), n, letters)
			}
			return letters
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// From the fan-out's skip to the republish, on moto: a commit whose item
// does not decode is skipped by the fan-out with a letter; a republish
// before the fix keeps the letter and sends nothing; once the item is
// restored, the republish reads the commit from the events table, sends it
// through the fan-out's encoder, and deletes every letter naming it. A
// message that names no commit stays for a person.
func TestRepublishSkippedSendsTheNamedCommitOnceFixed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")
	kin := awstest.KinesisStream(t, "EventsStream")
	queue := awstest.Queue(t, "FanoutSkippedQueue")
	store := eventstore.New(dynamostore.New(db, table))
	w := notebooktest.NewWriter(notebooktest.Notebook(t, "nb1"))
	w.Write(t, store, notebooktest.Note("first"))
	w.Write(t, store, notebooktest.Note("second"), notebooktest.Note("third"))
	good := fanouttest.StoredCommit(t, db, table, w.Stream, 2)
	first := fanouttest.StoredCommit(t, db, table, w.Stream, 1)
	// A faulty writer left the commit at 2 without its events.
	broken := storetest.Undecodable(good)
	awstest.PutItems(t, db, table, []eventstore.Item{broken})

	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	pub := fanout.New(fanout.Config{Kinesis: awstest.Kinesis(t), Stream: kin, Skipped: sqsqueue.New(awstest.SQS(t), queue), Log: log})
	// The batch comes twice (its end was resent): two letters name the
	// same commit.
	for range 2 {
		resp, err := pub.Handle(ctx, fanouttest.Inserts(t, []eventstore.Item{first, broken}))
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("fan-out: %+v, %v", resp, err)
		}
	}
	if _, err := awstest.SQS(t).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(`{"reason":"no commit named"}`)}); err != nil {
		t.Fatal(err)
	}
	letters := listed(t, queue, 3)
	var named []string
	for _, l := range letters {
		if l.Problem == "" {
			named = append(named, l.Skipped.String())
		}
	}
	if len(named) != 2 || !strings.HasPrefix(named[0], "acme#notebook#nb1 at 2 (undecodable: ") || named[0] != named[1] {
		t.Errorf("letters %v, want two naming acme#notebook#nb1 at 2 and one naming nothing", letters)
	}

	// Before the fix: nothing is sent, every letter stays.
	res, err := redrive.RepublishSkipped(ctx, awstest.SQS(t), queue, 1, store, pub)
	if err != nil {
		t.Fatal(err)
	}
	if res.Letters != 3 || res.Deleted != 0 || len(res.Kept) != 3 || res.Sent != 0 || len(res.Republished) != 0 {
		t.Fatalf("before the fix: %+v, want 3 letters kept and nothing sent", res)
	}
	if !slices.ContainsFunc(res.Kept, func(k string) bool {
		return strings.Contains(k, "acme#notebook#nb1 at 2") && strings.Contains(k, "no events")
	}) ||
		!slices.ContainsFunc(res.Kept, func(k string) bool { return strings.Contains(k, "names no commit") }) {
		t.Errorf("kept %q, want why for each", res.Kept)
	}

	// The fix: the item is restored (say, from a point-in-time copy).
	awstest.PutItems(t, db, table, []eventstore.Item{good})
	listed(t, queue, 3) // back from the first run's visibility timeout
	res, err = redrive.RepublishSkipped(ctx, awstest.SQS(t), queue, 1, store, pub)
	if err != nil {
		t.Fatal(err)
	}
	if res.Letters != 3 || res.Deleted != 2 || len(res.Kept) != 1 || res.Sent != 1 ||
		!slices.Equal(res.Republished, []string{"acme#notebook#nb1 at 2..3"}) {
		t.Fatalf("after the fix: %+v, want the commit at 2 sent once and both its letters deleted", res)
	}
	var versions []string
	for _, r := range awstest.ReadKinesis(t, kin, 3) {
		evs, err := envelope.Decode(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, storetest.CommitVersions([][]eventstore.Event{evs}))
	}
	slices.Sort(versions)
	// The commit at 1, sent by each fan-out run, and the one republished.
	if want := []string{"[1]", "[1]", "[2 3]"}; !slices.Equal(versions, want) {
		t.Errorf("records hold %v, want %v", versions, want)
	}
	if left := listed(t, queue, 1); left[0].Problem == "" {
		t.Errorf("left %+v, want the message that names no commit", left)
	}
}

// A republish that cannot go on (its time is up) says so rather than
// reading every letter as kept.
func TestRepublishSkippedStopsWithItsContext(t *testing.T) {
	t.Parallel()
	queue := awstest.Queue(t, "FanoutSkippedQueue")
	if err := sqsqueue.New(awstest.SQS(t), queue).Send(t.Context(), `{"stream":"acme#notebook#nb1","version":1,"cause":"oversize"}`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	store := eventstore.New(eventstore.NewMemoryBackend())
	_, err := redrive.RepublishSkipped(ctx, awstest.SQS(t), queue, 1, store, &publisher{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("republish out of time: %v, want the context's error", err)
	}
}
