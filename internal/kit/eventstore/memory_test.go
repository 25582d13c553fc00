package eventstore_test

import (
	"testing"

	"annals/internal/kit/eventstore"
	"annals/internal/kit/eventstore/storetest"
)

func TestMemoryBackendContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) eventstore.Backend { return eventstore.NewMemoryBackend() })
}

func TestMemoryBackendArchive(t *testing.T) {
	storetest.RunArchive(t,
		func(*testing.T) eventstore.Backend { return eventstore.NewMemoryBackend() },
		func(*testing.T) eventstore.ArchiveObjects { return eventstore.NewMemoryObjects("archive") },
		storetest.Exhaustive)
}
