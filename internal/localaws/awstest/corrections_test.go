package awstest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"annals/internal/localaws/awstest"
)

// The launcher corrects moto (tools/moto_fixes.py, docs/adr/0005). These
// tests hold the local servers to what DynamoDB does where moto 5.2 does
// not.

func item(pk string, sk int, attrs ...string) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberN{Value: fmt.Sprint(sk)},
	}
	for i := 0; i+1 < len(attrs); i += 2 {
		it[attrs[i]] = &types.AttributeValueMemberS{Value: attrs[i+1]}
	}
	return it
}

func putNew(table string, it map[string]types.AttributeValue) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(table), Item: it,
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

// chain follows a shard's iterators as a stream consumer does.
type chain struct {
	streams *dynamodbstreams.Client
	iter    *string
}

func openChain(t *testing.T, db *dynamodb.Client, table string) *chain {
	t.Helper()
	cfg := awstest.Config(t, "DYNAMODB_STREAMS")
	streams := dynamodbstreams.NewFromConfig(cfg)
	d, err := db.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := streams.DescribeStream(t.Context(), &dynamodbstreams.DescribeStreamInput{StreamArn: d.Table.LatestStreamArn})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.StreamDescription.Shards) != 1 {
		t.Fatalf("%d shards, want 1", len(desc.StreamDescription.Shards))
	}
	it, err := streams.GetShardIterator(t.Context(), &dynamodbstreams.GetShardIteratorInput{
		StreamArn: d.Table.LatestStreamArn, ShardId: desc.StreamDescription.Shards[0].ShardId,
		ShardIteratorType: streamstypes.ShardIteratorTypeLatest,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &chain{streams: streams, iter: it.ShardIterator}
}

// read follows the chain until it is caught up and returns the keys of the
// records it read, as pk/sk.
func (c *chain) read(t *testing.T) []string {
	t.Helper()
	var keys []string
	for {
		out, err := c.streams.GetRecords(t.Context(), &dynamodbstreams.GetRecordsInput{ShardIterator: c.iter})
		if err != nil {
			t.Fatal(err)
		}
		c.iter = out.NextShardIterator
		for _, r := range out.Records {
			pk := r.Dynamodb.Keys["pk"].(*streamstypes.AttributeValueMemberS).Value
			sk := r.Dynamodb.Keys["sk"].(*streamstypes.AttributeValueMemberN).Value
			keys = append(keys, pk+"/"+sk)
		}
		if len(out.Records) == 0 {
			return keys
		}
	}
}

// moto 5.2 puts deep copies in place of the tables a refused transaction
// touched, so an iterator handed out before it reads a shard that never
// receives another record. DynamoDB Streams never does that: the chain
// started before the refusal sees every record written after it, and none
// of the refused transaction.
func TestStreamConsumersSeeEveryRecordAfterARefusedTransaction(t *testing.T) {
	t.Parallel()
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")
	c := openChain(t, db, table)

	if _, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("a", 1)}); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		// The first write would succeed; the second's condition fails.
		_, err := db.TransactWriteItems(t.Context(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			putNew(table, item("b", round)),
			putNew(table, item("a", 1)),
		}})
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			t.Fatalf("round %d: the transaction was not refused: %v", round, err)
		}
		if got := aws.ToString(tce.CancellationReasons[1].Code); got != "ConditionalCheckFailed" {
			t.Fatalf("round %d: reason %q, want ConditionalCheckFailed", round, got)
		}
		if _, ok := tce.CancellationReasons[1].Item["pk"]; !ok {
			t.Errorf("round %d: the refused write's reason lacks the existing item (ALL_OLD)", round)
		}
		if _, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("c", round)}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.TransactWriteItems(t.Context(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			putNew(table, item("d", round)), putNew(table, item("e", round)),
		}}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"a/1", "c/0", "d/0", "e/0", "c/1", "d/1", "e/1", "c/2", "d/2", "e/2"}
	if got := c.read(t); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("the chain started before the refusals read %v, want %v", got, want)
	}
	out, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: item("b", 0), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item != nil {
		t.Fatalf("the refused transaction's first write is in the table: %v", out.Item)
	}
}

// A transaction that fails while it writes (here an update that does not
// apply to the item it finds) leaves nothing behind: neither its earlier
// writes nor their stream records.
func TestTransactionFailingMidWriteLeavesNothing(t *testing.T) {
	t.Parallel()
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")
	if _, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("text", 1, "n", "not a number")}); err != nil {
		t.Fatal(err)
	}
	c := openChain(t, db, table)
	_, err := db.TransactWriteItems(t.Context(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		putNew(table, item("first", 1)),
		{Update: &types.Update{
			TableName: aws.String(table), Key: item("text", 1),
			UpdateExpression:          aws.String("SET n = n + :one"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
		}},
	}})
	if err == nil {
		t.Fatal("adding to a string succeeded")
	}
	out, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: item("first", 1), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item != nil {
		t.Fatalf("the failed transaction's first write stayed: %v", out.Item)
	}
	if got := c.read(t); len(got) != 0 {
		t.Fatalf("the stream shows writes of a transaction that did not happen: %v", got)
	}
	if _, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("after", 1)}); err != nil {
		t.Fatal(err)
	}
	if got := c.read(t); strings.Join(got, " ") != "after/1" {
		t.Fatalf("after the failed transaction the chain read %v, want after/1", got)
	}
}

// Racing transactions over the same keys: exactly one wins each try, and
// the losers write nothing. Each transaction checks and writes many items,
// which gives a server that runs requests concurrently many chances to
// interleave two of them.
func TestRacingTransactionsHaveExactlyOneWinner(t *testing.T) {
	t.Parallel()
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")
	const tries, writers, items = 30, 6, 25
	for try := range tries {
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins []int
		)
		for w := range writers {
			wg.Go(func() {
				tx := make([]types.TransactWriteItem, items)
				for i := range tx {
					tx[i] = putNew(table, item(fmt.Sprintf("tx-%d-%d", try, i), 1, "writer", fmt.Sprint(w)))
				}
				_, err := db.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{
					TransactItems: tx, ClientRequestToken: aws.String(fmt.Sprintf("race-%d-%d-%d", try, w, time.Now().UnixNano())),
				})
				var tce *types.TransactionCanceledException
				switch {
				case err == nil:
					mu.Lock()
					wins = append(wins, w)
					mu.Unlock()
				case errors.As(err, &tce):
				default:
					t.Errorf("try %d writer %d: %v", try, w, err)
				}
			})
		}
		wg.Wait()
		if len(wins) != 1 {
			t.Fatalf("try %d: winners %v, want exactly one", try, wins)
		}
		for i := range items {
			out, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: item(fmt.Sprintf("tx-%d-%d", try, i), 1), ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Item["writer"].(*types.AttributeValueMemberS).Value; got != fmt.Sprint(wins[0]) {
				t.Fatalf("try %d: item %d written by %s, but %d won", try, i, got, wins[0])
			}
		}
	}
}

// The corrections were written for one version of moto's code. Started on
// any other, the launcher refuses to serve and names what changed, rather
// than run corrections that might undo moto's own behaviour.
func TestLauncherRefusesMotoItWasNotWrittenFor(t *testing.T) {
	t.Parallel()
	python := os.Getenv("ANNALS_MOTO_PYTHON")
	if python == "" {
		t.Fatal("ANNALS_MOTO_PYTHON is not set: run the tests with `make test`, which points it at moto's Python")
	}
	tools := filepath.Join(awstest.ProjectRoot(t), "tools")
	// A stand-in for a moto whose TransactWriteItems changed: the same
	// launcher, run after the function is replaced.
	script := `
import runpy, sys
import moto.dynamodb.models as m
def transact_write_items(self, transact_items):
    pass
m.DynamoDBBackend.transact_write_items = transact_write_items
sys.argv = ["moto_launcher.py", "--port", "0"]
sys.path.insert(0, ` + fmt.Sprintf("%q", tools) + `)
runpy.run_path(` + fmt.Sprintf("%q", filepath.Join(tools, "moto_launcher.py")) + `, run_name="__main__")
`
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", script).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("the launcher did not refuse (err %v):\n%s", err, out)
	}
	if !strings.Contains(string(out), "DynamoDBBackend.transact_write_items") {
		t.Errorf("the refusal does not name the changed function:\n%s", out)
	}
}
