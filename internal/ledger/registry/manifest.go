// Package registry lists what the ledger application is made of: its
// functions (by their logical ids in template.yaml) with the variables and
// access each needs, and its views. Every wiring, the CLI, the local stack
// and the tests that hold template.yaml to the code read it from here.
package registry

import (
	"annals/internal/kit/awsconfig"
	"annals/internal/kit/httpapi"
	"annals/internal/kit/wiring"
)

// ViewParameters maps each view table that a rebuild can replace to the
// template parameter that names its replacement (docs/operations.md). A
// grant on such a table, and a variable naming it, follow the parameter:
// the stack's own table while it is empty, the named one once it is set.
var ViewParameters = map[string]string{
	"AccountsTable":  "AccountsViewTable",
	"HistoryTable":   "HistoryViewTable",
	"TransfersTable": "TransfersViewTable",
}

// Every function's environment variables, by name.
const (
	EnvEventsTable      = "EVENTS_TABLE"
	EnvIdempotencyTable = "IDEMPOTENCY_TABLE"
	EnvAccountsTable    = "ACCOUNTS_TABLE"
	EnvHistoryTable     = "HISTORY_TABLE"
	EnvTransfersTable   = "TRANSFERS_TABLE"
	EnvStreamName       = "STREAM_NAME"
	EnvDeadLetterQueue  = "DEAD_LETTER_QUEUE_URL"
	EnvSnapshotEvery    = "SNAPSHOT_EVERY"
	EnvTenantClaim      = "TENANT_CLAIM"
	EnvLocalTenant      = "LOCAL_TENANT"
	EnvLocalActor       = "LOCAL_ACTOR"
)

// GlobalEnv is what every function reads through awsconfig, set once in
// the template's Globals.
var GlobalEnv = []string{"LOG_LEVEL"}

// httpAuth is how an HTTP function identifies callers: the tenant claim
// from the template, and a fixed tenant and actor that only a local run
// without an authorizer sets. A deployed stack must never set those two.
var httpAuth = []wiring.Var{
	{Name: EnvTenantClaim, Ref: "TenantClaim"},
	{Name: EnvLocalTenant},
	{Name: EnvLocalActor},
}

// Manifests holds every function's manifest, by logical id in template.yaml.
var Manifests = map[string]wiring.Manifest{
	"CommandFunction": {
		Env: append([]wiring.Var{
			{Name: EnvEventsTable, Ref: "EventsTable"},
			{Name: EnvIdempotencyTable, Ref: "IdempotencyTable"},
			{Name: EnvSnapshotEvery},
		}, httpAuth...),
		Grants: []wiring.Grant{
			// Load (Query), the conflict read-back (GetItem) and the
			// conditional append (PutItem).
			{Resource: "EventsTable", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}},
			{Resource: "IdempotencyTable", Actions: []string{"dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}},
		},
	},
	"QueryFunction": {
		Env: append([]wiring.Var{
			{Name: EnvEventsTable, Ref: "EventsTable"},
			{Name: EnvAccountsTable, Ref: "AccountsTable"},
			{Name: EnvHistoryTable, Ref: "HistoryTable"},
			{Name: EnvTransfersTable, Ref: "TransfersTable"},
			{Name: EnvSnapshotEvery},
		}, httpAuth...),
		Grants: []wiring.Grant{
			{Resource: "EventsTable", Actions: []string{"dynamodb:Query"}},
			{Resource: "AccountsTable", Actions: []string{"dynamodb:GetItem"}},
			{Resource: "AccountsTable", Suffix: "/index/ByOwner", Actions: []string{"dynamodb:Query"}},
			{Resource: "HistoryTable", Actions: []string{"dynamodb:Query"}},
			{Resource: "TransfersTable", Actions: []string{"dynamodb:GetItem"}},
		},
	},
	"FanoutFunction": {
		Env: []wiring.Var{{Name: EnvStreamName, Ref: "EventsStream"}},
		Grants: []wiring.Grant{
			{Resource: "EventsStream", Actions: []string{"kinesis:PutRecords"}},
		},
	},
	"TransfersFunction": {
		Env: []wiring.Var{
			{Name: EnvEventsTable, Ref: "EventsTable"},
			{Name: EnvSnapshotEvery},
		},
		Grants: []wiring.Grant{
			// Loads (Query), the read-back after a lost answer (GetItem),
			// and each step's guarded transaction of conditional puts.
			{Resource: "EventsTable", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}},
			// The event source mapping's on-failure destination sends the
			// batches given up on with the function's role.
			{Resource: "TransfersDeadLetterQueue", Actions: []string{"sqs:SendMessage"}},
		},
	},
	"ProjectorFunction": {
		Env: []wiring.Var{
			{Name: EnvAccountsTable, Ref: "AccountsTable"},
			{Name: EnvHistoryTable, Ref: "HistoryTable"},
			{Name: EnvEventsTable, Ref: "EventsTable"},
			{Name: EnvDeadLetterQueue, Ref: "ProjectorDeadLetterQueue"},
			{Name: EnvTransfersTable, Ref: "TransfersTable"},
		},
		Grants: []wiring.Grant{
			// Each view reads its positions and writes state and position
			// in one conditional write.
			{Resource: "AccountsTable", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem"}},
			{Resource: "HistoryTable", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem"}},
			{Resource: "TransfersTable", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem"}},
			// Gap fill reads the missing range from the events table.
			{Resource: "EventsTable", Actions: []string{"dynamodb:Query"}},
			// Poison events, with the reason, for a redrive.
			{Resource: "ProjectorDeadLetterQueue", Actions: []string{"sqs:SendMessage"}},
		},
	},
}

// Auth reads how an HTTP function identifies callers: the tenant claim, or,
// for a local run without an authorizer, a fixed tenant and actor.
func Auth(v *wiring.Vars) httpapi.Auth {
	return httpapi.Auth{
		TenantClaim: v.Optional(EnvTenantClaim, "tenant"),
		LocalTenant: v.Optional(EnvLocalTenant, ""),
		LocalActor:  v.Optional(EnvLocalActor, ""),
	}
}

// Function wires the application's function with this logical id through
// its manifest (see wiring.Function).
func Function(id string, b wiring.Builder) awsconfig.Wire {
	return wiring.Function(id, Manifests[id], b)
}
