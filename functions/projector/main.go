// Projector is the Lambda that keeps the query tables current from the
// events stream.
package main

import (
	"annals/internal/kit/awsconfig"
	"annals/internal/ledger/wiring/projector"
)

func main() { awsconfig.Start(projector.Wire) }
