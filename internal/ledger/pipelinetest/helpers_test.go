package pipelinetest

import (
	"sync"
)

// totalMu guards the delivery totals that parallel seeds add to.
var totalMu sync.Mutex
