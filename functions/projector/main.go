// Projector is the Lambda that keeps the query tables current from the
// events stream.
package main

import (
	"annals/internal/awsconfig"
	"annals/internal/wiring/projector"
)

func main() { awsconfig.Start(projector.Wire) }
