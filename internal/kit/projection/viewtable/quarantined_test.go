package viewtable_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/projection"
	"annals/internal/kit/projection/viewtable"
)

// pages is a table that answers a Scan from its pages in turn, each page
// filtered as DynamoDB filters: after reading every item of it.
type pages struct {
	pages [][]map[string]types.AttributeValue
	calls []*dynamodb.ScanInput
}

func (p *pages) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	copied := *in
	p.calls = append(p.calls, &copied)
	n := len(p.calls) - 1
	out := &dynamodb.ScanOutput{ScannedCount: int32(len(p.pages[n])), ConsumedCapacity: &types.ConsumedCapacity{CapacityUnits: aws.Float64(0.5)}}
	for _, it := range p.pages[n] {
		if q, ok := it["quarantined"].(*types.AttributeValueMemberBOOL); ok && q.Value {
			out.Items = append(out.Items, it)
		}
	}
	if n < len(p.pages)-1 {
		out.LastEvaluatedKey = map[string]types.AttributeValue{"pk": viewtable.S(fmt.Sprint("page", n))}
	}
	return out, nil
}

func row(key string, pos projection.Position) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{"pk": viewtable.S(key)}
	viewtable.SetPosition(it, pos)
	return it
}

// Every quarantined position of every page is handed over, with its
// tenant, id and quarantine; what was read is counted as DynamoDB billed
// it.
func TestQuarantinedReadsEveryPage(t *testing.T) {
	q := &projection.Quarantine{Reason: "decode MoneyDeposited v9", At: 4}
	table := &pages{pages: [][]map[string]types.AttributeValue{
		{row("acme#a1", projection.Position{Version: 2}), row("acme#a2", projection.Position{Version: 3, Quarantine: q})},
		{row("acme#a3", projection.Position{Version: 1})},
		{row("other#a1", projection.Position{Version: 7, Quarantine: &projection.Quarantine{Reason: "gap", At: 9}})},
	}}
	var got []string
	var progressed []int
	done, err := viewtable.Quarantined(t.Context(), table, "view", func(tenant, id string, pos projection.Position) error {
		got = append(got, fmt.Sprintf("%s/%s v%d at %d: %s", tenant, id, pos.Version, pos.Quarantine.At, pos.Quarantine.Reason))
		return nil
	}, func(s viewtable.Scanned) { progressed = append(progressed, s.Items) })
	if err != nil {
		t.Fatal(err)
	}
	if want := "acme/a2 v3 at 4: decode MoneyDeposited v9|other/a1 v7 at 9: gap"; strings.Join(got, "|") != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if done.Items != 4 || done.ReadUnits != 1.5 || len(table.calls) != 3 {
		t.Errorf("read %+v in %d scans, want 4 items, 1.5 units, 3 scans", done, len(table.calls))
	}
	if len(progressed) != 3 || progressed[2] != 4 {
		t.Errorf("progress %v", progressed)
	}
	if table.calls[1].ExclusiveStartKey == nil || aws.ToString(table.calls[0].FilterExpression) != "quarantined = :q" {
		t.Errorf("scans %+v", table.calls)
	}
}
