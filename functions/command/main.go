// Command is the Lambda behind the ledger's command routes.
package main

import (
	"annals/internal/awsconfig"
	"annals/internal/wiring"
)

func main() { awsconfig.Start(wiring.Command) }
