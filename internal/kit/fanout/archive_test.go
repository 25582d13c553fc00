package fanout_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/localaws/awstest"
)

// Archiving a stream removes its snapshots, replaces its commits by
// placeholders and writes its marker: the table's stream records of all
// of them are kept off the fan-out by the event source's filter, and
// dropped by the handler all the same.
func TestArchivalNeverReachesTheEventsStream(t *testing.T) {
	t.Parallel()
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")
	store := eventstore.New(dynamostore.New(db, table), eventstore.WithSnapshotEvery(3))
	ctx := t.Context()
	s := stream(t, "archived")
	head := eventstore.NewStream(s)
	for i := range 7 {
		c, err := store.Append(ctx, head, []eventstore.NewEvent{event("Deposited", fmt.Sprintf(`{"amount":%d}`, i))}, eventstore.Metadata{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		head = c.Head
	}
	inserted := len(tableStreamEvent(t, db, table).Records)
	a, err := store.Archive(ctx, s, awstest.ArchiveBucket(t, "archive"))
	if err != nil {
		t.Fatal(err)
	}
	all := tableStreamEvent(t, db, table)
	archival := events.DynamoDBEvent{Records: all.Records[inserted:]}
	counts := map[string]int{}
	for _, r := range archival.Records {
		counts[r.EventName]++
	}
	// The marker is inserted, the snapshots removed, every commit's item
	// replaced by its placeholder.
	if counts["INSERT"] != 1 || counts["REMOVE"] != a.Snapshots || counts["MODIFY"] != a.Commits || len(archival.Records) != a.Removed+1 {
		t.Fatalf("archival made records %v; want the marker's INSERT, %d REMOVEs and %d MODIFYs", counts, a.Snapshots, a.Commits)
	}

	p := awstest.TemplateFunction[struct {
		FilterCriteria struct{ Filters []struct{ Pattern string } }
	}](t, "FanoutFunction")
	for name, e := range p.Events {
		var pattern map[string]any
		if err := json.Unmarshal([]byte(e.Properties.FilterCriteria.Filters[0].Pattern), &pattern); err != nil {
			t.Fatalf("%s filter: %v", name, err)
		}
		for _, r := range archival.Records {
			raw, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var rec map[string]any
			if err := json.Unmarshal(raw, &rec); err != nil {
				t.Fatal(err)
			}
			if matches(pattern, rec) {
				t.Errorf("%s's filter keeps the archival record %s", name, raw)
			}
		}
	}

	k := &fakeKinesis{t: t}
	h, logs := newHandler(t, k)
	resp, err := h.Handle(deadline(t, 5*time.Second), archival)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v; want no failures", resp, err)
	}
	if len(k.stored) != 0 {
		t.Errorf("the fan-out sent %d records of an archival", len(k.stored))
	}
	if sum := summary(t, logs); sum["dropped"] != float64(len(archival.Records)) || sum["poison"] != nil && sum["poison"] != 0.0 {
		t.Errorf("summary %v: want every record dropped", sum)
	}
}
