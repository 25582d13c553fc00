// Transfers is the Lambda of the transfers process manager: it drives
// each transfer whose stream the events stream names, step by step.
package main

import (
	"annals/internal/kit/awsconfig"
	"annals/internal/ledger/wiring/transfers"
)

func main() { awsconfig.Start(transfers.Wire) }
