package dynamokeys_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/personal"
	"annals/internal/kit/personal/dynamokeys"
	"annals/internal/kit/testclock"
	"annals/internal/localaws/awstest"
)

// fixture is a store on a table of its own, its requests counted.
type fixture struct {
	keys  *dynamokeys.Keys
	db    *dynamodb.Client // uncounted, to look at the items
	table string
	wire  *awstest.Wire
	api   *hooked
}

func setup(t *testing.T) fixture {
	t.Helper()
	db := awstest.DynamoDB(t)
	wire := awstest.NewWire()
	table := awstest.Table(t, db, "SubjectKeysTable")
	kms := awstest.KMS(t)
	api := &hooked{DynamoDBAPI: awstest.DynamoDBOver(t, wire, 4)}
	keys := dynamokeys.New(api, awstest.KMSOver(t, wire, 4), table, awstest.Key(t, kms, "PersonalDataKey"))
	return fixture{keys: keys, db: db, table: table, wire: wire, api: api}
}

// hooked runs before, once, ahead of the next write of an erasure record:
// a test's way to slip another writer in between an erasure's read and its
// write. It counts those writes.
type hooked struct {
	dynamokeys.DynamoDBAPI
	mu       sync.Mutex
	before   func()
	erasures int
}

func (h *hooked) hook() {
	h.mu.Lock()
	f := h.before
	h.before = nil
	h.erasures++
	h.mu.Unlock()
	if f != nil {
		f()
	}
}

func (h *hooked) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if _, ok := in.Item["erasedAt"]; ok {
		h.hook()
	}
	return h.DynamoDBAPI.PutItem(ctx, in, opts...)
}

func (h *hooked) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if p := in.TransactItems[0].Put; p != nil && p.Item["erasedAt"] != nil {
		h.hook()
	}
	return h.DynamoDBAPI.TransactWriteItems(ctx, in, opts...)
}

func (f fixture) items(t *testing.T) map[string]map[string]types.AttributeValue {
	t.Helper()
	out, err := f.db.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(f.table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	items := map[string]map[string]types.AttributeValue{}
	for _, it := range out.Items {
		items[it["pk"].(*types.AttributeValueMemberS).Value] = it
	}
	return items
}

// counts returns the requests since the last call, by operation.
func (f fixture) counts() map[string]int {
	c := f.wire.Counts()
	f.wire.Reset()
	return c
}

func wantCounts(t *testing.T, what string, got map[string]int, want map[string]int) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s made requests %v, want %v", what, got, want)
	}
}

var (
	alice = personal.Subject{Tenant: "t1", ID: "alice"}
	bob   = personal.Subject{Tenant: "t1", ID: "bob"}
	at    = testclock.Start
)

// What a key costs: a cold read is one item and one unwrap, a new key one
// item, one generation and one write; registration, lookup and erasure
// one request each once the tenant's index key is known.
func TestRequests(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := t.Context()
	if _, err := f.keys.Key(ctx, alice, true); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, "a new key", f.counts(), map[string]int{"GetItem": 1, "GenerateDataKey": 1, "UpdateItem": 1})
	if _, err := f.keys.Key(ctx, alice, false); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, "a cold key", f.counts(), map[string]int{"GetItem": 1, "Decrypt": 1})
	if _, err := f.keys.Key(ctx, bob, false); !errors.Is(err, personal.ErrNoKey) {
		t.Fatal(err)
	}
	wantCounts(t, "no key", f.counts(), map[string]int{"GetItem": 1})

	if err := f.keys.Register(ctx, alice, "email", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, "the tenant's first registration", f.counts(), map[string]int{"GetItem": 1, "GenerateDataKey": 1, "PutItem": 1, "TransactWriteItems": 1})
	if err := f.keys.Register(ctx, bob, "email", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, "a registration", f.counts(), map[string]int{"TransactWriteItems": 1})
	if _, err := f.keys.Subjects(ctx, "t1", "email", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, "a lookup", f.counts(), map[string]int{"GetItem": 1})
	if _, err := f.keys.Erase(ctx, alice, "operator-1", at); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, "an erasure", f.counts(), map[string]int{"GetItem": 1, "TransactWriteItems": 1})
	if _, err := f.keys.Erase(ctx, alice, "operator-1", at); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, "an erasure again", f.counts(), map[string]int{"GetItem": 1})
}

// The table holds no key and no value in the clear; an erased subject's
// item holds its record alone, and no lookup names it.
func TestItems(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := t.Context()
	const email = "alice@example.com"
	var keys [][]byte
	for _, s := range []personal.Subject{alice, bob} {
		k, err := f.keys.Key(ctx, s, true)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		for _, field := range []string{"email", "login"} {
			if err := f.keys.Register(ctx, s, field, email); err != nil {
				t.Fatal(err)
			}
		}
	}
	items := f.items(t)
	for pk, it := range items {
		for name, v := range it {
			text := fmt.Sprint(v)
			if b, ok := v.(*types.AttributeValueMemberB); ok {
				text = string(b.Value)
			}
			if strings.Contains(text, "example") {
				t.Errorf("%s %s holds the value in the clear", pk, name)
			}
			for _, k := range keys {
				if strings.Contains(text, string(k)) || strings.Contains(text, base64.StdEncoding.EncodeToString(k)) {
					t.Errorf("%s %s holds a data key in the clear", pk, name)
				}
			}
		}
	}
	if len(items) != 2+1+2 {
		t.Errorf("%d items, want two subjects, an index key and two lookups: %v", len(items), slices.Sorted(maps.Keys(items)))
	}

	if _, err := f.keys.Erase(ctx, alice, "operator-1", at); err != nil {
		t.Fatal(err)
	}
	items = f.items(t)
	if got := slices.Sorted(maps.Keys(items["s#t1#alice"])); !slices.Equal(got, []string{"erasedAt", "erasedBy", "pk"}) {
		t.Errorf("the erased subject's item holds %v, want its record alone", got)
	}
	for pk, it := range items {
		if ids, ok := it["ids"].(*types.AttributeValueMemberSS); strings.HasPrefix(pk, "l#") && (!ok || !slices.Equal(ids.Value, []string{"bob"})) {
			t.Errorf("lookup %s holds %v, want bob alone", pk, it["ids"])
		}
	}
}

// A wrapped key copied to another subject's item does not unwrap: KMS
// binds it to its tenant and subject.
func TestCopiedKeyDoesNotUnwrap(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := t.Context()
	for _, s := range []personal.Subject{alice, {Tenant: "t2", ID: "alice"}} {
		if _, err := f.keys.Key(ctx, bob, true); err != nil {
			t.Fatal(err)
		}
		wrapped := f.items(t)["s#t1#bob"]["key"]
		_, err := f.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(f.table), Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "s#" + s.Tenant + "#" + s.ID}, "key": wrapped,
		}})
		if err != nil {
			t.Fatal(err)
		}
		if k, err := f.keys.Key(ctx, s, true); err == nil || errors.Is(err, personal.ErrNoKey) {
			t.Errorf("bob's wrapped key unwrapped for %s: %x, %v", s, k, err)
		}
	}
}

// An erasure that read the subject before a registration went through
// reads again, and takes the new lookup out too; with and without
// registrations before.
func TestEraseRereadsAfterARegistration(t *testing.T) {
	t.Parallel()
	for _, registered := range []bool{false, true} {
		t.Run(fmt.Sprint("registered=", registered), func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			ctx := t.Context()
			if registered {
				if err := f.keys.Register(ctx, alice, "email", "first"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.keys.Key(ctx, alice, true); err != nil {
				t.Fatal(err)
			}
			f.api.before = func() {
				if err := f.keys.Register(ctx, alice, "email", "slipped-in"); err != nil {
					t.Error(err)
				}
			}
			if _, err := f.keys.Erase(ctx, alice, "operator-1", at); err != nil {
				t.Fatal(err)
			}
			if f.api.erasures != 2 {
				t.Errorf("the erasure wrote %d times, want again after its first write was refused", f.api.erasures)
			}
			for _, v := range []string{"first", "slipped-in"} {
				if ids, err := f.keys.Subjects(ctx, "t1", "email", v); err != nil || len(ids) > 0 {
					t.Errorf("after erasure, %q finds %v, %v", v, ids, err)
				}
			}
		})
	}
}

// More lookups than a transaction holds: the erasure takes out all.
func TestEraseManyLookups(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := t.Context()
	const n = 230
	for i := range n {
		if err := f.keys.Register(ctx, alice, "email", fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.keys.Register(ctx, bob, "email", "v7"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.Erase(ctx, alice, "operator-1", at); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		ids, err := f.keys.Subjects(ctx, "t1", "email", fmt.Sprint("v", i))
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		if i == 7 {
			want = []string{"bob"}
		}
		if !slices.Equal(ids, want) {
			t.Errorf("v%d finds %v after the erasure, want %v", i, ids, want)
		}
	}
}

// Throttling is the SDK retryer's to absorb.
func TestThrottledKMSIsRetried(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := t.Context()
	made, err := f.keys.Key(ctx, alice, true)
	if err != nil {
		t.Fatal(err)
	}
	f.counts()
	f.wire.SetPlan(func(c awstest.Call) *awstest.Fault {
		if c.Operation == "Decrypt" && c.N == 1 {
			return awstest.Throttled("ThrottlingException")
		}
		return nil
	})
	got, err := f.keys.Key(ctx, alice, false)
	if err != nil || !bytes.Equal(got, made) {
		t.Fatalf("key after a throttled unwrap: %v", err)
	}
	if c := f.counts(); c["Decrypt"] != 2 {
		t.Errorf("unwraps %d, want a retry", c["Decrypt"])
	}
}
