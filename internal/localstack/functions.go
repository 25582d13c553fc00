package localstack

import (
	"annals/internal/awsconfig"
	"annals/internal/wiring/command"
	"annals/internal/wiring/fanout"
	"annals/internal/wiring/projector"
	"annals/internal/wiring/query"
	"annals/internal/wiring/transfers"
)

// Functions maps each function's logical id in template.yaml to the wiring
// its Lambda main starts with. Only the local stack links them all.
var Functions = map[string]awsconfig.Wire{
	"CommandFunction":   command.Wire,
	"FanoutFunction":    fanout.Wire,
	"ProjectorFunction": projector.Wire,
	"QueryFunction":     query.Wire,
	"TransfersFunction": transfers.Wire,
}
