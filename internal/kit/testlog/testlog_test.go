package testlog_test

import (
	"log/slog"
	"sync"
	"testing"

	"annals/internal/kit/testlog"
)

func TestBufferTakesConcurrentWritersAndReadsLinesBack(t *testing.T) {
	var b testlog.Buffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { log.Info("hello", "n", i) })
	}
	wg.Wait()
	lines, err := b.Lines()
	if err != nil || len(lines) != 8 || lines[0]["msg"] != "hello" {
		t.Errorf("lines %v, %v; want 8 hello lines", lines, err)
	}
	if !b.Contains(`"msg":"hello"`) || b.Contains("bye") {
		t.Errorf("Contains disagrees with %q", b.String())
	}
	b.Write([]byte("not json\n"))
	if _, err := b.Lines(); err == nil {
		t.Error("a line that is not JSON was decoded")
	}
	b.Reset()
	if lines, err := b.Lines(); err != nil || len(lines) != 0 || b.String() != "" {
		t.Errorf("after Reset: %q, %v", b.String(), err)
	}
}
