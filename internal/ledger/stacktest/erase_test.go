package stacktest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kinesistypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/kit/personal"
	"annals/internal/localaws/awstest"
)

// An erased data subject's personal data is nowhere to be read on the
// running stack: not in any table (events, snapshots, views, keys), queue,
// stream or log; the API shows it erased, lookups by owner no longer find
// it, and the balances, versions and transfers are as they were. Another
// subject's data reads as before.
func TestErasureLeavesNoPlaintextAnywhere(t *testing.T) {
	// Not in parallel with the soaks, which share its moto (see
	// TestFuzzTheWholeAPI).
	s, logs := startStack(t)
	const (
		owner        = "Zephyrine Quillfeather"
		reference    = "xylophone lessons 4471"
		counterparty = "Bartholomew Inkwright"
		transferRef  = "quokka fund 9921"
	)
	secrets := []string{owner, reference, counterparty, transferRef}

	a := openWith(t, s.URL, `{"owner":"`+owner+`","dataSubject":"cust-erase-1","currency":"EUR"}`)
	b := openWith(t, s.URL, `{"owner":"Grace Hopper","dataSubject":"cust-keep-2","currency":"EUR"}`)
	command(t, s.URL, "/accounts/"+a+"/deposits", `{"amount":9000,"reference":"`+reference+`","counterparty":"`+counterparty+`","channel":"card"}`, http.StatusOK)
	var started struct {
		TransferID string `json:"transferId"`
	}
	decode(t, command(t, s.URL, "/transfers", fmt.Sprintf(`{"fromAccountId":%q,"toAccountId":%q,"amount":2500,"reference":%q}`, a, b, transferRef), http.StatusAccepted), &started)
	until(t, "the transfer completes and the views catch up", func() bool {
		var tr struct{ Status string }
		decode(t, get(t, s.URL, "/transfers/"+started.TransferID), &tr)
		return tr.Status == "completed" && viewVersion(t, s.URL, a) == 5 && viewVersion(t, s.URL, b) == 2 && historyLen(t, s.URL, a) == 2
	})
	if body := string(get(t, s.URL, "/accounts/"+a+"/events")); !strings.Contains(body, reference) || !strings.Contains(body, counterparty) {
		t.Fatalf("before the erasure the audit trail reads %s", body)
	}
	if body := string(get(t, s.URL, "/accounts?owner="+url.QueryEscape(owner))); !strings.Contains(body, a) {
		t.Fatalf("before the erasure the owner's accounts are %s", body)
	}
	before := map[string]string{}
	for _, p := range []string{"/accounts/" + b, "/accounts/" + a + "/transactions", "/accounts/" + b + "/transactions", "/transfers/" + started.TransferID} {
		before[p] = string(get(t, s.URL, p))
	}

	var erased struct {
		DataSubject string `json:"dataSubject"`
	}
	decode(t, command(t, s.URL, "/data-subjects/cust-erase-1/erase", "", http.StatusOK), &erased)
	if erased.DataSubject != "cust-erase-1" {
		t.Fatalf("erasure answered %+v", erased)
	}

	// The API: erased where the subject's data was, all else unchanged,
	// once the query function's cached key has expired
	// (personal.DefaultCacheTTL).
	var acc struct {
		Owner   string `json:"owner"`
		Balance int64  `json:"balance"`
		Version int64  `json:"version"`
	}
	until(t, "the query function shows the erasure", func() bool {
		decode(t, get(t, s.URL, "/accounts/"+a), &acc)
		return acc.Owner != owner
	})
	if acc.Owner != personal.ErasedText || acc.Balance != 6500 || acc.Version != 5 {
		t.Errorf("the erased subject's account reads %+v", acc)
	}
	if body := string(get(t, s.URL, "/accounts?owner="+url.QueryEscape(owner))); strings.Contains(body, a) {
		t.Errorf("after the erasure the owner's accounts are %s", body)
	}
	if body := string(get(t, s.URL, "/accounts?owner="+url.QueryEscape("Grace Hopper"))); !strings.Contains(body, b) {
		t.Errorf("another subject's lookup reads %s", body)
	}
	for p, was := range before {
		now := string(get(t, s.URL, p))
		if strings.Contains(was, transferRef) || strings.Contains(was, reference) {
			was = strings.NewReplacer(transferRef, personal.ErasedText, reference, personal.ErasedText).Replace(was)
		}
		if now != was {
			t.Errorf("%s after the erasure reads\n%s\nwant\n%s", p, now, was)
		}
	}
	for _, p := range []string{"/accounts/" + a + "/events", "/accounts/" + a + "?version=1", "/accounts/" + b + "/events"} {
		if body := string(get(t, s.URL, p)); !strings.Contains(body, personal.ErasedText) {
			t.Errorf("%s after the erasure reads %s, want the subject's fields erased", p, body)
		}
	}

	// Everything that stays readable: no byte of the plaintext.
	cfg := awstest.Config(t, "DYNAMODB")
	places := map[string][]byte{"the functions' log": []byte(logs.String())}
	db := dynamodb.NewFromConfig(cfg)
	for logical, table := range s.Names.Tables {
		var all bytes.Buffer
		p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
		for p.HasMorePages() {
			page, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatalf("scan %s: %v", logical, err)
			}
			raw, err := json.Marshal(page.Items) // strings as they are stored
			if err != nil {
				t.Fatal(err)
			}
			all.Write(raw)
		}
		places["table "+logical] = all.Bytes()
	}
	q := sqs.NewFromConfig(cfg)
	for logical, queue := range s.Names.QueueURLs {
		out, err := q.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queue), MaxNumberOfMessages: 10, VisibilityTimeout: 0})
		if err != nil {
			t.Fatalf("receive from %s: %v", logical, err)
		}
		raw, _ := json.Marshal(out.Messages)
		places["queue "+logical] = raw
	}
	k := kinesis.NewFromConfig(cfg)
	for logical, stream := range s.Names.Streams {
		shards, err := k.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(stream)})
		if err != nil {
			t.Fatalf("shards of %s: %v", logical, err)
		}
		var all bytes.Buffer
		for _, sh := range shards.Shards {
			it, err := k.GetShardIterator(t.Context(), &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: sh.ShardId, ShardIteratorType: kinesistypes.ShardIteratorTypeTrimHorizon})
			if err != nil {
				t.Fatal(err)
			}
			recs, err := k.GetRecords(t.Context(), &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(10000)})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs.Records {
				all.Write(r.Data)
			}
		}
		if all.Len() == 0 {
			t.Errorf("stream %s holds no records: the search would prove nothing", logical)
		}
		places["stream "+logical] = all.Bytes()
	}
	for place, content := range places {
		for _, secret := range secrets {
			if bytes.Contains(content, []byte(secret)) {
				t.Errorf("%s holds %q after the erasure", place, secret)
			}
		}
	}
	if len(places["table EventsTable"]) == 0 || !bytes.Contains(places["table AccountsTable"], []byte(a)) {
		t.Errorf("the search did not read the tables it should have")
	}
}
