// Package functions links every function of the ledger application: each
// one's logical id in template.yaml, with the wiring its Lambda main starts
// with. The local stack, the CLI and the tests that build every function
// start from here; a Lambda binary links only its own wiring.
package functions

import (
	"annals/internal/kit/awsconfig"
	"annals/internal/ledger/wiring/command"
	"annals/internal/ledger/wiring/fanout"
	"annals/internal/ledger/wiring/projector"
	"annals/internal/ledger/wiring/query"
	"annals/internal/ledger/wiring/transfers"
)

// Wires maps each function's logical id in template.yaml to the wiring its
// Lambda main starts with.
var Wires = map[string]awsconfig.Wire{
	"CommandFunction":   command.Wire,
	"FanoutFunction":    fanout.Wire,
	"ProjectorFunction": projector.Wire,
	"QueryFunction":     query.Wire,
	"TransfersFunction": transfers.Wire,
}
