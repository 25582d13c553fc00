// Package archiver wires ArchiverFunction, the scheduled archival of
// closed accounts.
package archiver

import (
	"context"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/s3archive"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/archival"
	"annals/internal/ledger/env"
	"annals/internal/ledger/wiring/eventsdb"
)

// ID is the function's logical id in template.yaml.
const ID = "ArchiverFunction"

// Manifest is what the function reads and may do: scan the events table,
// load accounts, write each archived account's marker and batches, and
// put (and read back) archives and its position in the archive bucket.
// template.yaml is held to it exactly.
var Manifest = wiring.Manifest{
	Env: slices.Concat(eventsdb.Vars, []wiring.Var{
		{Name: env.ArchiveBucket, Ref: "ArchiveBucket"},
		{Name: env.ArchiveAfterDays, Ref: "ArchiveAfterDays"},
		{Name: env.ArchiveScanEveryDays, Ref: "ArchiveScanEveryDays"},
	}),
	Grants: []wiring.Grant{
		{Resource: "EventsTable", Actions: []string{"dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan"}},
		{Resource: "ArchiveBucket", Suffix: "/*", Actions: []string{"s3:GetObject", "s3:PutObject"}},
	},
}

// Wire builds the function's handler from its environment.
var Wire = wiring.Function(ID, Manifest, build)

// margin is how long before its deadline a run stops taking up accounts:
// an account's archival is a few requests, and the position is one more.
const margin = 30 * time.Second

const day = 24 * time.Hour

func build(_ context.Context, v *wiring.Vars, cfg aws.Config) (any, error) {
	objects, err := s3archive.New(cfg, v.Required(env.ArchiveBucket))
	if err != nil {
		return nil, err
	}
	h := &archival.Handler{
		Store:     eventsdb.FromEnv(v, dynamodb.NewFromConfig(cfg), eventstore.WithArchive(objects)),
		Objects:   objects,
		Retention: time.Duration(v.Int(env.ArchiveAfterDays, 365)) * day,
		Every:     time.Duration(v.Int(env.ArchiveScanEveryDays, 30)) * day,
		Log:       v.Logger(),
		Margin:    margin,
	}
	return h.Handle, nil
}
