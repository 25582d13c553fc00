// Package env names the variables template.yaml gives the ledger's
// functions, and reads the ones every HTTP function shares.
package env

import (
	"annals/internal/kit/httpapi"
	"annals/internal/kit/wiring"
)

// Every function's environment variables, by name.
const (
	EventsTable     = "EVENTS_TABLE"
	AccountsTable   = "ACCOUNTS_TABLE"
	HistoryTable    = "HISTORY_TABLE"
	TransfersTable  = "TRANSFERS_TABLE"
	StatementsTable = "STATEMENTS_TABLE"
	StreamName      = "STREAM_NAME"
	DeadLetterQueue = "DEAD_LETTER_QUEUE_URL"
	SkippedQueue    = "SKIPPED_QUEUE_URL"
	SnapshotEvery   = "SNAPSHOT_EVERY"
	SubjectKeys     = "SUBJECT_KEYS_TABLE"
	PersonalDataKey = "PERSONAL_DATA_KEY"
	TenantClaim     = "TENANT_CLAIM"
	LocalTenant     = "LOCAL_TENANT"
	LocalActor      = "LOCAL_ACTOR"
	// ArchiveBucket is the bucket of the closed accounts' archives.
	ArchiveBucket = "ARCHIVE_BUCKET"
	// ArchiveAfterDays is how long after its close an account is
	// archived (the template's ArchiveAfterDays).
	ArchiveAfterDays = "ARCHIVE_AFTER_DAYS"
	// ArchiveScanEveryDays is how often the archiver scans the events
	// table (the template's ArchiveScanEveryDays).
	ArchiveScanEveryDays = "ARCHIVE_SCAN_EVERY_DAYS"
)

// MetricsNamespace is where the functions' metrics go in CloudWatch
// (docs/operations.md, "Metrics"); each is recorded by FunctionName.
const MetricsNamespace = "annals"

// Global is what every function reads through awsconfig, set once in the
// template's Globals.
var Global = []string{"LOG_LEVEL"}

// HTTPAuth is how an HTTP function identifies callers: the tenant claim
// from the template, and a fixed tenant and actor that only a local run
// without an authorizer sets. A deployed stack must never set those two.
var HTTPAuth = []wiring.Var{
	{Name: TenantClaim, Ref: "TenantClaim"},
	{Name: LocalTenant},
	{Name: LocalActor},
}

// Auth reads how an HTTP function identifies callers: the tenant claim, or,
// for a local run without an authorizer, a fixed tenant and actor.
func Auth(v *wiring.Vars) httpapi.Auth {
	return httpapi.Auth{
		TenantClaim: v.Optional(TenantClaim, httpapi.DefaultTenantClaim),
		LocalTenant: v.Optional(LocalTenant, ""),
		LocalActor:  v.Optional(LocalActor, ""),
	}
}
