package main

import (
	"strings"
	"testing"
	"time"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/dynamostore"
	"annals/internal/kit/personal"
	"annals/internal/kit/personal/dynamokeys"
	"annals/internal/ledger/account"
	"annals/internal/ledger/app"
	"annals/internal/localaws/awstest"
)

// stream show opens personal data with the stack's keys: in the clear
// while its subject lives, [erased] after; without the keys, sealed. No
// way shows the plaintext once the subject is erased.
func TestStreamShowOpensPersonalData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, kms := awstest.DynamoDB(t), awstest.KMS(t)
	table := awstest.Table(t, db, "EventsTable")
	personalEnv := awstest.PersonalData(t)
	keys := dynamokeys.New(db, kms, personalEnv["SUBJECT_KEYS_TABLE"], personalEnv["PERSONAL_DATA_KEY"])
	commands := app.NewCommands(eventstore.New(dynamostore.New(db, table)), personal.NewVault(keys), 0)
	res, err := commands.Execute(ctx, app.AccountCommand{Tenant: "acme", AccountID: "acc-1",
		Command: account.Open{AccountID: "acc-1", DataSubject: "cust-9", Owner: "Ottoline Pemberton", Currency: "EUR"}})
	if err != nil || res.Version != 1 {
		t.Fatalf("open: %+v, %v", res, err)
	}
	if _, err := commands.Execute(ctx, app.AccountCommand{Tenant: "acme", AccountID: "acc-1",
		Command: account.Deposit{Amount: 5, Reference: "harpsichord tuning"}}); err != nil {
		t.Fatal(err)
	}
	stream, _ := app.AccountStream("acme", "acc-1")

	sealed, _ := runOK(t, map[string]string{"EVENTS_TABLE": table}, "stream", "show", stream.Key())
	if strings.Contains(sealed, "Ottoline") || !strings.Contains(sealed, "pd1:cust-9:") {
		t.Errorf("without the keys:\n%s", sealed)
	}
	env := map[string]string{"EVENTS_TABLE": table}
	for k, v := range personalEnv {
		env[k] = v
	}
	opened, _ := runOK(t, env, "stream", "show", stream.Key())
	checkContains(t, "with the keys", opened, `"owner": "Ottoline Pemberton"`, "harpsichord tuning")

	if _, err := keys.Erase(ctx, personal.Subject{Tenant: "acme", ID: "cust-9"}, "dpo", time.Now()); err != nil {
		t.Fatal(err)
	}
	erased, _ := runOK(t, env, "stream", "show", "--json", stream.Key())
	if strings.Contains(erased, "Ottoline") || strings.Contains(erased, "harpsichord") || strings.Count(erased, personal.ErasedText) < 3 {
		t.Errorf("after the erasure:\n%s", erased)
	}
}
