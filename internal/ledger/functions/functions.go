// Package functions lists every Lambda function of the ledger: its logical
// id in template.yaml, its folder, its manifest and the wiring its Lambda
// main starts with. The local stack, the CLI and the tests that hold the
// template and the built binaries to the code iterate it; a Lambda binary
// links only its own wiring.
package functions

import (
	"annals/internal/kit/awsconfig"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/wiring/archiver"
	"annals/internal/ledger/wiring/command"
	"annals/internal/ledger/wiring/fanout"
	"annals/internal/ledger/wiring/projector"
	"annals/internal/ledger/wiring/query"
	"annals/internal/ledger/wiring/transfers"
)

// Function is one Lambda function of the ledger.
type Function struct {
	// ID is its logical id in template.yaml.
	ID string
	// Dir is its main's folder under functions/, and its golden payloads'
	// under events/.
	Dir      string
	Manifest wiring.Manifest
	Wire     awsconfig.Wire
}

// All lists every function.
var All = []Function{
	{ID: archiver.ID, Dir: "archiver", Manifest: archiver.Manifest, Wire: archiver.Wire},
	{ID: command.ID, Dir: "command", Manifest: command.Manifest, Wire: command.Wire},
	{ID: fanout.ID, Dir: "fanout", Manifest: fanout.Manifest, Wire: fanout.Wire},
	{ID: projector.ID, Dir: "projector", Manifest: projector.Manifest, Wire: projector.Wire},
	{ID: query.ID, Dir: "query", Manifest: query.Manifest, Wire: query.Wire},
	{ID: transfers.ID, Dir: "transfers", Manifest: transfers.Manifest, Wire: transfers.Wire},
}

// Wires maps each function's logical id to its wiring.
func Wires() map[string]awsconfig.Wire {
	out := map[string]awsconfig.Wire{}
	for _, f := range All {
		out[f.ID] = f.Wire
	}
	return out
}

// Manifests maps each function's logical id to its manifest.
func Manifests() map[string]wiring.Manifest {
	out := map[string]wiring.Manifest{}
	for _, f := range All {
		out[f.ID] = f.Manifest
	}
	return out
}

// Named returns the function with this logical id.
func Named(id string) (Function, bool) {
	for _, f := range All {
		if f.ID == id {
			return f, true
		}
	}
	return Function{}, false
}
