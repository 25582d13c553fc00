// Query is the Lambda behind the ledger's read routes.
package main

import (
	"annals/internal/kit/awsconfig"
	"annals/internal/ledger/wiring/query"
)

func main() { awsconfig.Start(query.Wire) }
