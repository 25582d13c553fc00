// Package query wires QueryFunction, the ledger's read routes.
package query

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/s3archive"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/env"
	"annals/internal/ledger/queryapi"
	"annals/internal/ledger/views"
	"annals/internal/ledger/wiring/eventsdb"
	"annals/internal/ledger/wiring/keysdb"
)

// ID is the function's logical id in template.yaml.
const ID = "QueryFunction"

// Manifest is what the function reads and may do: the events table for
// time travel and the audit trail, and every view's table for its routes.
// template.yaml is held to it exactly.
var Manifest = func() wiring.Manifest {
	m := wiring.Manifest{
		Env: slices.Concat(eventsdb.Vars, []wiring.Var{{Name: env.ArchiveBucket, Ref: "ArchiveBucket"}}),
		Grants: []wiring.Grant{
			{Resource: "EventsTable", Actions: []string{"dynamodb:Query"}},
			// An archived account's audit trail and time travel.
			{Resource: "ArchiveBucket", Suffix: "/*", Actions: []string{"s3:GetObject"}},
		},
	}
	for _, v := range views.All {
		m.Env = append(m.Env, wiring.Var{Name: v.Env, Ref: v.Table})
		m.Grants = append(m.Grants, v.QueryGrants...)
	}
	m.Env = append(m.Env, keysdb.Vars...)
	m.Grants = append(m.Grants, keysdb.ReaderGrants...)
	m.Env = append(m.Env, env.HTTPAuth...)
	return m
}()

// Wire builds the function's handler from its environment.
var Wire = wiring.Function(ID, Manifest, build)

// build reads the query tables through a read-only, metered client, and
// the events table for time travel and the audit trail, an archived
// account's from the archive bucket. Each view of the registry's table is
// read from its variable; the routes views serve of their own come with
// them.
func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	db := dynamodb.NewFromConfig(cfg)
	archive, err := s3archive.New(cfg, v.Required(env.ArchiveBucket))
	if err != nil {
		return nil, err
	}
	readOnly := queryapi.ReadOnlyDynamoDB{DB: db}
	tables := map[string]string{}
	var routes []views.Route
	for _, view := range views.All {
		tables[view.Name] = v.Required(view.Env)
		if view.Routes != nil {
			routes = append(routes, view.Routes(readOnly, tables[view.Name])...)
		}
	}
	log := v.Logger()
	h := queryapi.New(queryapi.Config{
		Store:    eventsdb.FromEnv(v, db, eventstore.WithArchive(archive)),
		Vault:    keysdb.Reader(v, cfg),
		Accounts: views.NewDynamoAccounts(readOnly, tables[views.AccountsView]),
		History:  views.NewDynamoHistory(readOnly, tables[views.HistoryView]),
		// Ended transfers from the view, pending ones from their streams.
		Transfers: views.NewDynamoTransfers(readOnly, tables[views.TransfersView]),
		Routes:    routes,
		Auth:      env.Auth(v),
		NewID:     wiring.NewID,
		Log:       log,
		Metrics:   v.Metrics(env.MetricsNamespace),
	})
	return h.Handle, nil
}
