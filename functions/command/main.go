// Command is the Lambda behind the ledger's command routes.
package main

import (
	"annals/internal/awsconfig"
	"annals/internal/wiring/command"
)

func main() { awsconfig.Start(command.Wire) }
