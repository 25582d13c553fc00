// Package command wires CommandFunction, the ledger's command routes.
package command

import (
	"context"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/commandapi"
	"annals/internal/ledger/env"
	"annals/internal/ledger/wiring/eventsdb"
	"annals/internal/ledger/wiring/keysdb"
)

// ID is the function's logical id in template.yaml.
const ID = "CommandFunction"

// Manifest is what the function reads and may do; template.yaml is held to
// it exactly.
var Manifest = wiring.Manifest{
	Env: slices.Concat(eventsdb.Vars, keysdb.Vars, env.HTTPAuth),
	Grants: append([]wiring.Grant{
		// Load (Query), the conditional append (PutItem), and the guarded
		// one that holds an Idempotency-Key (TransactWriteItems, which IAM
		// authorizes as the PutItem of each of its items). A write that
		// fails its condition returns the item in its place: no read-back.
		{Resource: "EventsTable", Actions: []string{"dynamodb:PutItem", "dynamodb:Query"}},
	}, keysdb.WriterGrants...),
}

// cacheBytes bounds the states an instance keeps: some 25,000 accounts, a
// small part of the function's memory.
const cacheBytes = 8 << 20

// Wire builds the function's handler from its environment.
var Wire = wiring.Function(ID, Manifest, build)

func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	db := dynamodb.NewFromConfig(cfg)
	log := v.Logger()
	// The instance remembers the accounts it has seen: a command on one is
	// then its conditional write alone.
	store := eventsdb.FromEnv(v, db, eventstore.WithCache(eventstore.NewCache(cacheBytes)))
	h := commandapi.New(commandapi.Config{
		Store:   store,
		Vault:   keysdb.Writer(v, cfg),
		Auth:    env.Auth(v),
		Now:     time.Now,
		NewID:   wiring.NewID,
		Log:     log,
		Metrics: v.Metrics(env.MetricsNamespace),
	})
	return h.Handle, nil
}
