package dynamokeys_test

import (
	"errors"
	"testing"
	"time"

	"annals/internal/kit/personal"
	"annals/internal/kit/personal/dynamokeys"
	"annals/internal/localaws/awstest"
)

// A Reader reads what the store wrote: the same keys, the same subjects,
// erasures; it makes, registers and erases nothing.
func TestReaderReadsWhatTheStoreWrote(t *testing.T) {
	db, kms := awstest.DynamoDB(t), awstest.KMS(t)
	key := awstest.Key(t, kms, "PersonalDataKey")
	table := awstest.Table(t, db, "SubjectKeysTable")
	keys, reader := dynamokeys.New(db, kms, table, key), dynamokeys.NewReader(db, kms, table, key)
	ctx := t.Context()
	ada, bob := personal.Subject{Tenant: "t1", ID: "ada"}, personal.Subject{Tenant: "t1", ID: "bob"}

	if got, err := reader.Subjects(ctx, "t1", "owner", "Ada"); err != nil || len(got) != 0 {
		t.Fatalf("subjects before any key: %v, %v", got, err)
	}
	want, err := keys.Key(ctx, ada, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Register(ctx, ada, "owner", "Ada"); err != nil {
		t.Fatal(err)
	}
	if got, err := reader.Key(ctx, ada, false); err != nil || string(got) != string(want) {
		t.Errorf("reader's key %x, %v; want the store's %x", got, err, want)
	}
	if got, err := reader.Subjects(ctx, "t1", "owner", "Ada"); err != nil || len(got) != 1 || got[0] != "ada" {
		t.Errorf("reader's subjects %v, %v", got, err)
	}
	if _, err := reader.Key(ctx, bob, false); !errors.Is(err, personal.ErrNoKey) {
		t.Errorf("reader's key of a subject without one: %v", err)
	}
	if _, err := reader.Key(ctx, bob, true); !errors.Is(err, dynamokeys.ErrReadOnly) {
		t.Errorf("reader asked to make a key: %v", err)
	}
	if err := reader.Register(ctx, ada, "owner", "A"); !errors.Is(err, dynamokeys.ErrReadOnly) {
		t.Errorf("reader asked to register: %v", err)
	}
	if _, err := reader.Erase(ctx, ada, "x", time.Now()); !errors.Is(err, dynamokeys.ErrReadOnly) {
		t.Errorf("reader asked to erase: %v", err)
	}
	if _, err := keys.Erase(ctx, ada, "dpo", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Key(ctx, ada, false); !errors.Is(err, personal.ErrErased) {
		t.Errorf("reader's key of an erased subject: %v", err)
	}
	if e, ok, err := reader.Erasure(ctx, ada); err != nil || !ok || e.By != "dpo" {
		t.Errorf("reader's erasure %+v, %v, %v", e, ok, err)
	}
}
