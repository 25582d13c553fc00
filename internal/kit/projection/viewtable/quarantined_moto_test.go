package viewtable_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/projection"
	"annals/internal/kit/projection/viewtable"
	"annals/internal/localaws/awstest"
)

// Only the rows that hold a quarantine are listed, with their positions;
// a row of a stream's other items, or of a healthy stream, is not.
func TestQuarantinedListsTheQuarantinedRowsOnMoto(t *testing.T) {
	t.Parallel()
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "HistoryTable")
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	row := func(pk string, sk int64, pos projection.Position) map[string]types.AttributeValue {
		it := map[string]types.AttributeValue{"pk": viewtable.S(pk), "sk": viewtable.N(sk)}
		viewtable.SetPosition(it, pos)
		return it
	}
	poisoned := projection.Position{Version: 3, UpdatedAt: at, Quarantine: &projection.Quarantine{Reason: "data: unexpected end of JSON input", At: 4}}
	healthy := projection.Position{Version: 7, UpdatedAt: at}
	awstest.PutItems(t, db, table, []map[string]types.AttributeValue{
		row("t1#poisoned", 0, poisoned),
		row("t1#poisoned", 2, projection.Position{Version: 2}),
		row("t1#healthy", 0, healthy),
		row("t2#early", 0, projection.Position{Quarantine: &projection.Quarantine{Reason: "unknown type", At: 1}}),
	})

	type quarantine struct {
		Key      string
		Position projection.Position
	}
	var got []quarantine
	if _, err := viewtable.Quarantined(t.Context(), db, table, func(tenant, id string, pos projection.Position) error {
		got = append(got, quarantine{tenant + "#" + id, pos})
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b quarantine) int { return strings.Compare(a.Key, b.Key) })
	if len(got) != 2 {
		t.Fatalf("quarantines %+v, want t1#poisoned and t2#early", got)
	}
	if q := got[0]; q.Key != "t1#poisoned" || q.Position.Version != 3 || !q.Position.UpdatedAt.Equal(at) || *q.Position.Quarantine != *poisoned.Quarantine {
		t.Errorf("first quarantine %+v (%+v)", q, q.Position.Quarantine)
	}
	if q := got[1]; q.Key != "t2#early" || q.Position.Version != 0 || q.Position.Quarantine.At != 1 || q.Position.Quarantine.Reason != "unknown type" {
		t.Errorf("second quarantine %+v (%+v)", q, q.Position.Quarantine)
	}

	none := func(string, string, projection.Position) error { return nil }
	if _, err := viewtable.Quarantined(t.Context(), db, table+"-missing", none, nil); err == nil || !strings.Contains(err.Error(), table+"-missing") {
		t.Errorf("a missing table: %v, want an error naming it", err)
	}
}
