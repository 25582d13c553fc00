package stacktest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/s3archive"
	"annals/internal/ledger/app"
	"annals/internal/ledger/archival"
	"annals/internal/ledger/wiring/eventsdb"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/localstack"
)

// An account's life on the local stack, to its archive and back: opened,
// paid into and out of, closed; archived by the archiver function (as its
// schedule runs it on AWS); its audit trail, states at each version and
// at each event's time answer the same bytes from the archive, a command
// to it is 410 account-archived and writes nothing, and it is restored.
// The views (account, history, statements, the owner's list) stay as they
// were throughout: the table stream's records of the archival and the
// restore reach no consumer as a change, and nothing is dead-lettered.
func TestArchivalOnTheLocalStack(t *testing.T) {
	t.Parallel()
	s, _ := startStack(t)
	owner := "archie-" + fmt.Sprint(time.Now().UnixNano())
	id := openAccount(t, s.URL, owner)
	command(t, s.URL, "/accounts/"+id+"/deposits", `{"amount":2500,"reference":"salary"}`, http.StatusOK)
	command(t, s.URL, "/accounts/"+id+"/withdrawals", `{"amount":2500,"reference":"rent"}`, http.StatusOK)
	command(t, s.URL, "/accounts/"+id+"/close", "", http.StatusOK)
	peer := openAccount(t, s.URL, owner)
	command(t, s.URL, "/accounts/"+peer+"/deposits", `{"amount":100}`, http.StatusOK)
	until(t, "the views show the closed account", func() bool { return viewVersion(t, s.URL, id) == 4 && viewVersion(t, s.URL, peer) == 2 })

	var trail struct {
		Items []struct {
			Version    int64  `json:"version"`
			RecordedAt string `json:"recordedAt"`
		} `json:"items"`
	}
	decode(t, get(t, s.URL, "/accounts/"+id+"/events"), &trail)
	if len(trail.Items) != 4 {
		t.Fatalf("the audit trail has %d events, want 4", len(trail.Items))
	}
	day := time.Now().UTC().Format("2006-01-02")
	reads := []string{"/accounts/" + id + "/events", "/accounts/" + id + "/events?fromVersion=2&limit=2"}
	for _, e := range trail.Items {
		reads = append(reads, fmt.Sprintf("/accounts/%s?version=%d", id, e.Version), "/accounts/"+id+"?at="+url.QueryEscape(e.RecordedAt))
	}
	views := []string{"/accounts/" + id, "/accounts/" + id + "/transactions", "/accounts?owner=" + owner,
		"/accounts/" + id + "/statements?from=" + day + "&to=" + day, "/accounts/" + peer}
	answers := func(paths []string) map[string]string {
		out := map[string]string{}
		for _, p := range paths {
			out[p] = string(get(t, s.URL, p))
		}
		return out
	}
	same := func(when string, paths []string, want map[string]string) {
		t.Helper()
		for p, w := range want {
			if got := string(get(t, s.URL, p)); got != w {
				t.Errorf("%s, GET %s answers\n%s\nwant\n%s", when, p, got, w)
			}
		}
	}
	history, shown := answers(reads), answers(views)

	// The archiver runs as its schedule runs it, told the time.
	out, err := s.Invoke(t.Context(), "ArchiverFunction", []byte(`{"closedBefore":"`+time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)+`"}`))
	if err != nil {
		t.Fatalf("the archiver: %v", err)
	}
	var sum archival.Summary
	decode(t, out, &sum)
	if sum.Archived != 1 || sum.Candidates != 1 || sum.Failed != 0 || sum.Events != 4 {
		t.Fatalf("the archiver's run: %s; want the closed account archived", out)
	}
	store, objects := stackStore(t, s)
	// What `make local` writes for the operator's tool names them.
	if env := s.Environment(); env["EVENTS_TABLE"] != s.Names.Tables["EventsTable"] || env["ARCHIVE_BUCKET"] != objects.Bucket() {
		t.Errorf("the stack's environment names %q and %q, want its events table and bucket", env["EVENTS_TABLE"], env["ARCHIVE_BUCKET"])
	}
	stream, _ := app.AccountStream("local", id)
	if a, ok, err := store.ArchiveOf(t.Context(), stream); !ok || err != nil || a.Bucket != objects.Bucket() {
		t.Fatalf("the account is not archived in the stack's bucket: %+v, %v, %v", a, ok, err)
	}
	if err := s.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	same("archived", reads, history)
	same("archived", views, shown)
	archivedItems := partitionItems(t, s, stream)
	if n := strings.Count(archivedItems, "\n") + 1; n != 5 {
		t.Fatalf("the archived account holds %d items in the table, want its marker and 4 placeholders:\n%s", n, archivedItems)
	}

	// Commands to it are refused, keyed or not, and write nothing; a
	// transfer to it fails without touching it.
	for _, c := range []struct{ path, body, key string }{
		{"/accounts/" + id + "/deposits", `{"amount":5}`, ""},
		{"/accounts/" + id + "/deposits", `{"amount":5}`, "key-1"},
		{"/accounts/" + id + "/withdrawals", `{"amount":5}`, ""},
		{"/accounts/" + id + "/close", "", "key-2"},
	} {
		status, body := keyed(t, s.URL, c.path, c.body, c.key)
		if status != http.StatusGone || !strings.Contains(body, "account-archived") {
			t.Errorf("POST %s (key %q) = %d %s, want 410 account-archived", c.path, c.key, status, body)
		}
	}
	status, body := keyed(t, s.URL, "/transfers", fmt.Sprintf(`{"fromAccountId":%q,"toAccountId":%q,"amount":50}`, peer, id), "")
	if status >= 500 || status == http.StatusAccepted {
		t.Errorf("a transfer to the archived account = %d %s, want a refusal", status, body)
	}
	if got := partitionItems(t, s, stream); got != archivedItems {
		t.Errorf("refused commands changed the archived account's items to\n%s\nwant\n%s", got, archivedItems)
	}

	// Restored, it reads the same from the table.
	if ok, err := store.Restore(t.Context(), stream, objects); !ok || err != nil {
		t.Fatalf("restore = %v, %v", ok, err)
	}
	if err := s.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	same("restored", reads, history)
	same("restored", views, shown)
	// A closed account again: a command is refused as such.
	if status, body := keyed(t, s.URL, "/accounts/"+id+"/deposits", `{"amount":5}`, ""); status != http.StatusUnprocessableEntity {
		t.Errorf("a deposit to the restored, closed account = %d %s, want 422", status, body)
	}
	for _, c := range s.Status(t.Context()) {
		if c.Failed != 0 || c.DeadLetters > 0 {
			t.Errorf("%s: %d failed, %d dead letters after the archival and the restore", c.Function, c.Failed, c.DeadLetters)
		}
	}
}

// keyed posts a command, with an Idempotency-Key when key is set.
func keyed(t *testing.T, base, path, body, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// stackStore is the stack's events table and archive bucket, as the
// operator's tool reaches them.
func stackStore(t *testing.T, s *localstack.Stack) (*eventstore.Store, *s3archive.Bucket) {
	t.Helper()
	cfg := awstest.Config(t, "S3")
	objects, err := s3archive.New(cfg, s.Names.Buckets["ArchiveBucket"])
	if err != nil {
		t.Fatal(err)
	}
	store := eventsdb.Store(dynamodb.NewFromConfig(cfg), s.Names.Tables["EventsTable"], eventstore.DefaultSnapshotEvery,
		slog.New(slog.DiscardHandler), eventstore.WithArchive(objects))
	return store, objects
}

// partitionItems is every item of a stream's partition in the stack's
// events table, as text.
func partitionItems(t *testing.T, s *localstack.Stack, stream eventstore.StreamID) string {
	t.Helper()
	out, err := dynamodb.NewFromConfig(awstest.Config(t, "DYNAMODB")).Query(t.Context(), &dynamodb.QueryInput{
		TableName:                 aws.String(s.Names.Tables["EventsTable"]),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: stream.Key()}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, it := range out.Items {
		b, err := json.Marshal(it)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	return strings.Join(lines, "\n")
}
