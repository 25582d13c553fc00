package eventstore_test

import (
	"testing"

	"annals/internal/eventstore"
	"annals/internal/eventstore/storetest"
)

func TestMemoryBackendContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) eventstore.Backend { return eventstore.NewMemoryBackend() })
}
