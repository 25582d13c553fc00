package awstest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/localaws/awstest"
)

// The whole test suite rests on DynamoDB's promise that a conditional write
// has one winner. moto's threaded server breaks that promise; the launcher
// must restore it. Each try races writers for one fresh key.
func TestRacingConditionalWritesHaveExactlyOneWinner(t *testing.T) {
	t.Parallel()
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")

	const tries, writers = 200, 8
	for try := range tries {
		var (
			wg         sync.WaitGroup
			mu         sync.Mutex
			wins, lost int
			other      []error
		)
		for w := range writers {
			wg.Go(func() {
				_, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{
					TableName: aws.String(table),
					Item: map[string]types.AttributeValue{
						"pk":     &types.AttributeValueMemberS{Value: fmt.Sprintf("race-%d", try)},
						"sk":     &types.AttributeValueMemberN{Value: "1"},
						"writer": &types.AttributeValueMemberN{Value: fmt.Sprint(w)},
					},
					ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
					ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
				})
				var ccf *types.ConditionalCheckFailedException
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.As(err, &ccf) && ownWrite(ccf.Item, w):
					// The write landed but its answer was lost on a busy
					// machine; the SDK's retry then found it there.
					wins++
				case errors.As(err, &ccf):
					lost++
				default:
					other = append(other, err)
				}
			})
		}
		wg.Wait()
		if len(other) > 0 {
			t.Fatalf("try %d: unexpected errors: %v", try, other)
		}
		if wins != 1 || lost != writers-1 {
			t.Fatalf("try %d: %d winners and %d losers among %d writers; want exactly 1 winner", try, wins, lost, writers)
		}
	}
}

func TestTableIsCreatedFromTemplateDefinition(t *testing.T) {
	t.Parallel()
	db := awstest.DynamoDB(t)
	table := awstest.Table(t, db, "EventsTable")

	out, err := db.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Table
	if got := keyNames(d.KeySchema); got != "pk:HASH,sk:RANGE" {
		t.Errorf("key schema = %s, want pk:HASH,sk:RANGE", got)
	}
	if d.StreamSpecification == nil || !aws.ToBool(d.StreamSpecification.StreamEnabled) ||
		d.StreamSpecification.StreamViewType != types.StreamViewTypeNewImage {
		t.Errorf("stream = %+v, want enabled with NEW_IMAGE", d.StreamSpecification)
	}
	if aws.ToString(d.LatestStreamArn) == "" {
		t.Error("no stream ARN on the events table")
	}
}

func TestMissingEndpointIsAnErrorWithInstructions(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "")
	err := awstest.CheckEndpoint("DYNAMODB")
	if !errors.Is(err, awstest.ErrNoEndpoint) {
		t.Fatalf("CheckEndpoint without endpoint = %v, want ErrNoEndpoint", err)
	}
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
	if err := awstest.CheckEndpoint("DYNAMODB"); err != nil {
		t.Fatalf("CheckEndpoint with a per-service endpoint = %v, want nil", err)
	}
}

func ownWrite(old map[string]types.AttributeValue, writer int) bool {
	n, ok := old["writer"].(*types.AttributeValueMemberN)
	return ok && n.Value == fmt.Sprint(writer)
}

func keyNames(ks []types.KeySchemaElement) string {
	s := ""
	for i, k := range ks {
		if i > 0 {
			s += ","
		}
		s += aws.ToString(k.AttributeName) + ":" + string(k.KeyType)
	}
	return s
}

// The racing test above passes against a threaded server too unless the
// interpreter happens to switch threads inside the check-and-write, so this
// one proves the launcher's property directly: while one connection holds the
// server mid-request, no other request is served.
func TestServerHandlesOneRequestAtATime(t *testing.T) {
	db := awstest.DynamoDB(t)
	endpoint, err := url.Parse(os.Getenv("AWS_ENDPOINT_URL"))
	if err != nil || endpoint.Host == "" {
		t.Fatalf("AWS_ENDPOINT_URL %q is not a URL: %v", os.Getenv("AWS_ENDPOINT_URL"), err)
	}
	// Warm the server first: its first DynamoDB request loads the backend.
	if _, err := db.ListTables(t.Context(), &dynamodb.ListTablesInput{Limit: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	holder, err := net.Dial("tcp", endpoint.Host)
	if err != nil {
		t.Fatal(err)
	}
	// Half a request: the server has accepted it and waits for the rest.
	if _, err := holder.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}

	served := make(chan error, 1)
	go func() {
		_, err := db.ListTables(context.Background(), &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		served <- err
	}()
	select {
	case err := <-served:
		t.Fatalf("a second request was served while the first was in progress (err=%v): the server is concurrent", err)
	case <-time.After(500 * time.Millisecond):
	}
	holder.Close()
	if err := <-served; err != nil {
		t.Fatalf("request after the first connection closed: %v", err)
	}
}
