// Archiver is the Lambda that archives closed accounts on a schedule.
package main

import (
	"annals/internal/kit/awsconfig"
	"annals/internal/ledger/wiring/archiver"
)

func main() { awsconfig.Start(archiver.Wire) }
