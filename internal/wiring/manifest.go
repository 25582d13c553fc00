package wiring

// Manifest is what one function needs from the stack: the environment
// variables its wiring reads and the access its code uses. The wiring reads
// its variables through it (a name it does not list fails the wiring), and
// a test holds template.yaml to it exactly, so the template grants each
// function no more and no less than it uses.
type Manifest struct {
	Env    []Var
	Grants []Grant
}

// Var is an environment variable a function reads.
type Var struct {
	Name string
	// Ref is what template.yaml sets the variable to: the Ref of the
	// resource or parameter with this logical id (a table's name, a
	// queue's URL, a stream's name, a parameter's value). Empty for a
	// variable the template leaves unset, whose default holds in AWS and
	// which only local runs set.
	Ref string
}

// Grant allows Actions on one resource of template.yaml.
type Grant struct {
	// Resource is a logical id. A view table (see ViewParameters) stands for
	// whichever table serves the view.
	Resource string
	// Suffix follows the resource's ARN, e.g. "/index/ByOwner".
	Suffix  string
	Actions []string
}

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
var httpAuth = []Var{
	{Name: EnvTenantClaim, Ref: "TenantClaim"},
	{Name: EnvLocalTenant},
	{Name: EnvLocalActor},
}

// Manifests holds every function's manifest, by logical id in template.yaml.
var Manifests = map[string]Manifest{
	"CommandFunction": {
		Env: append([]Var{
			{Name: EnvEventsTable, Ref: "EventsTable"},
			{Name: EnvIdempotencyTable, Ref: "IdempotencyTable"},
			{Name: EnvSnapshotEvery},
		}, httpAuth...),
		Grants: []Grant{
			// Load (Query), the conflict read-back (GetItem) and the
			// conditional append (PutItem).
			{Resource: "EventsTable", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}},
			{Resource: "IdempotencyTable", Actions: []string{"dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}},
		},
	},
	"QueryFunction": {
		Env: append([]Var{
			{Name: EnvEventsTable, Ref: "EventsTable"},
			{Name: EnvAccountsTable, Ref: "AccountsTable"},
			{Name: EnvHistoryTable, Ref: "HistoryTable"},
			{Name: EnvTransfersTable, Ref: "TransfersTable"},
			{Name: EnvSnapshotEvery},
		}, httpAuth...),
		Grants: []Grant{
			{Resource: "EventsTable", Actions: []string{"dynamodb:Query"}},
			{Resource: "AccountsTable", Actions: []string{"dynamodb:GetItem"}},
			{Resource: "AccountsTable", Suffix: "/index/ByOwner", Actions: []string{"dynamodb:Query"}},
			{Resource: "HistoryTable", Actions: []string{"dynamodb:Query"}},
			{Resource: "TransfersTable", Actions: []string{"dynamodb:GetItem"}},
		},
	},
	"FanoutFunction": {
		Env: []Var{{Name: EnvStreamName, Ref: "EventsStream"}},
		Grants: []Grant{
			{Resource: "EventsStream", Actions: []string{"kinesis:PutRecords"}},
		},
	},
	"TransfersFunction": {
		Env: []Var{
			{Name: EnvEventsTable, Ref: "EventsTable"},
			{Name: EnvSnapshotEvery},
		},
		Grants: []Grant{
			// Loads (Query), the read-back after a lost answer (GetItem),
			// and each step's guarded transaction of conditional puts.
			{Resource: "EventsTable", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}},
			// The event source mapping's on-failure destination sends the
			// batches given up on with the function's role.
			{Resource: "TransfersDeadLetterQueue", Actions: []string{"sqs:SendMessage"}},
		},
	},
	"ProjectorFunction": {
		Env: []Var{
			{Name: EnvAccountsTable, Ref: "AccountsTable"},
			{Name: EnvHistoryTable, Ref: "HistoryTable"},
			{Name: EnvEventsTable, Ref: "EventsTable"},
			{Name: EnvDeadLetterQueue, Ref: "ProjectorDeadLetterQueue"},
			{Name: EnvTransfersTable, Ref: "TransfersTable"},
		},
		Grants: []Grant{
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
