package localstack_test

import (
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/localaws/awstest"
	"annals/internal/localaws/localstack"
)

// A port in use is refused at once, with the way out, before any table
// is created.
func TestBusyPortFailsFirst(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	prefix := awstest.Name(t, "busy")
	_, err = localstack.Start(t.Context(), localstack.Config{
		Template: awstest.Template(t),
		AWS:      awstest.Config(t, "DYNAMODB"),
		Prefix:   prefix,
		Addr:     busy.Addr().String(),
		Tenant:   "local",
		Actor:    "local-user",
		Log:      slog.New(slog.DiscardHandler),
	})
	if err == nil || !strings.Contains(err.Error(), "PORT=N") {
		t.Fatalf("start on a busy port: %v, want an error saying how to choose another", err)
	}
	tables, err := awstest.DynamoDB(t).ListTables(t.Context(), &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range tables.TableNames {
		if strings.HasPrefix(name, prefix) {
			t.Errorf("table %s created before the port was found busy", name)
		}
	}
}
