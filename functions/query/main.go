// Query is the Lambda behind the ledger's read routes.
package main

import (
	"annals/internal/awsconfig"
	"annals/internal/wiring/query"
)

func main() { awsconfig.Start(query.Wire) }
