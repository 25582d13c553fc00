package fanout_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"annals/internal/kit/eventstore"
)

// Each commit Kinesis stored is one line, once however many rounds it
// took, with what following a command needs: its stream and versions, the
// correlation and trace ids it carries, and where it landed.
func TestEachSentCommitIsOneLine(t *testing.T) {
	store, items := newStore()
	for i := range 3 {
		evs := []eventstore.NewEvent{event("AccountOpened", `{}`), event("MoneyDeposited", `{"amount":1}`)}
		meta := eventstore.Metadata{CorrelationID: fmt.Sprintf("corr-%d", i)}
		if i == 1 {
			meta.TraceID = "1-5759e988-bd862e3fe1be46a994272793"
		}
		if _, err := store.Append(context.Background(), eventstore.NewStream(stream(t, fmt.Sprintf("a%d", i))), evs, meta, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The second record fails once.
	k := &fakeKinesis{t: t, answer: func(n int, entries []types.PutRecordsRequestEntry) ([]bool, error) {
		failed := make([]bool, len(entries))
		if n == 1 {
			failed[1] = true
		}
		return failed, nil
	}}
	h, logs := newHandler(t, k)
	if resp, err := h.Handle(deadline(t, 5*time.Second), inserts(t, items.commits())); err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	sent := map[string]map[string]any{}
	for _, l := range lines(t, logs) {
		if l["msg"] != "fanout sent a commit" {
			continue
		}
		key, _ := l["stream"].(string)
		if _, twice := sent[key]; twice {
			t.Errorf("%s logged twice", key)
		}
		sent[key] = l
	}
	if len(sent) != 3 {
		t.Fatalf("%d commits logged as sent, want 3: %s", len(sent), logs.String())
	}
	for i := range 3 {
		l := sent[stream(t, fmt.Sprintf("a%d", i)).Key()]
		if l["version"] != 1.0 || l["lastVersion"] != 2.0 || l["correlationId"] != fmt.Sprintf("corr-%d", i) ||
			l["shardId"] != "shardId-000000000000" || l["kinesisSequenceNumber"] == "" {
			t.Errorf("commit %d: line %v", i, l)
		}
		if _, ok := l["traceId"]; ok != (i == 1) {
			t.Errorf("commit %d: trace id %v", i, l["traceId"])
		}
	}
	if got := sent[stream(t, "a1").Key()]["traceId"]; got != "1-5759e988-bd862e3fe1be46a994272793" {
		t.Errorf("trace id %v", got)
	}
}
