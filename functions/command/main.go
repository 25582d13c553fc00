// Command is the Lambda behind the ledger's command routes.
package main

import (
	"annals/internal/kit/awsconfig"
	"annals/internal/ledger/wiring/command"
)

func main() { awsconfig.Start(command.Wire) }
