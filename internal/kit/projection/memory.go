package projection

import (
	"sync"

	"annals/internal/kit/eventstore"
)

// memory keeps the rows a projection wrote last, at most limit streams of
// them: a stream's records all go to one shard, and a shard to one
// projector at a time, so the row a projector wrote is almost always the
// row it finds next time. When full, it forgets an arbitrary stream.
type memory[S any] struct {
	mu    sync.Mutex
	limit int
	rows  map[eventstore.StreamID]remembered[S]
}

type remembered[S any] struct {
	state S
	pos   Position
}

func newMemory[S any](limit int) *memory[S] {
	return &memory[S]{limit: limit, rows: map[eventstore.StreamID]remembered[S]{}}
}

// get returns the stream's row, if kept; a nil memory keeps nothing.
func (m *memory[S]) get(stream eventstore.StreamID) (remembered[S], bool) {
	if m == nil {
		return remembered[S]{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rows[stream]
	return r, ok
}

func (m *memory[S]) put(stream eventstore.StreamID, state S, pos Position) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.rows[stream]; !ok && len(m.rows) >= m.limit {
		for k := range m.rows {
			delete(m.rows, k)
			break
		}
	}
	m.rows[stream] = remembered[S]{state: state, pos: pos}
}

func (m *memory[S]) forget(stream eventstore.StreamID) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rows, stream)
}
