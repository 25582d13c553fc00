// Fanout is the Lambda that publishes the events table's commits to Kinesis.
package main

import (
	"annals/internal/kit/awsconfig"
	"annals/internal/ledger/wiring/fanout"
)

func main() { awsconfig.Start(fanout.Wire) }
