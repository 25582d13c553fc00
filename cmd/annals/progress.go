package main

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"annals/internal/kit/rebuild"
)

// progress redraws a bar on a terminal, or writes a plain line now and then
// elsewhere (a log file, CI), until stopped.
type progress struct {
	done chan struct{}
	wg   sync.WaitGroup
}

const (
	barEvery   = 200 * time.Millisecond
	plainEvery = 10 * time.Second
	barWidth   = 30
)

func (c cli) startProgress(read func() rebuild.Progress) *progress {
	return c.startStatus(func(elapsed time.Duration, bar bool) string { return line(read(), elapsed, bar) })
}

// startStatus shows render's line for any long work: redrawn on a
// terminal (bar true: the line should pad itself to overwrite a longer
// one), written now and then elsewhere, and once more when stopped.
func (c cli) startStatus(render func(elapsed time.Duration, bar bool) string) *progress {
	p := &progress{done: make(chan struct{})}
	start := time.Now()
	every := plainEvery
	if c.terminal {
		every = barEvery
	}
	p.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				// The last state, drawn over the bar or as a last line.
				if c.terminal {
					fmt.Fprintf(c.stderr, "\r%s\n", render(time.Since(start), true))
				} else {
					fmt.Fprintln(c.stderr, render(time.Since(start), false))
				}
				return
			case <-t.C:
				if c.terminal {
					fmt.Fprintf(c.stderr, "\r%s", render(time.Since(start), true))
				} else {
					fmt.Fprintln(c.stderr, render(time.Since(start), false))
				}
			}
		}
	})
	return p
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}

// line renders where a rebuild stands; with bar, a bar of the scanned items
// against the table's (approximate) item count, and padding to overwrite
// a longer previous line.
func line(p rebuild.Progress, elapsed time.Duration, bar bool) string {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.Events) / s
	}
	text := fmt.Sprintf("pass %d %s: %d items scanned, %d streams, %d events (%.0f/s), %s",
		p.Pass, p.Phase, p.Scanned, p.Streams, p.Events, rate, elapsed.Round(time.Second))
	if p.Estimate > 0 {
		text = fmt.Sprintf("pass %d %s: %d/~%d items, %d streams, %d events (%.0f/s), %s",
			p.Pass, p.Phase, p.Scanned, p.Estimate, p.Streams, p.Events, rate, elapsed.Round(time.Second))
	}
	if !bar {
		return "rebuild: " + text
	}
	filled := 0
	if p.Estimate > 0 {
		filled = int(min(float64(p.Scanned)/float64(p.Estimate), 1) * barWidth)
	}
	return fmt.Sprintf("[%s%s] %-90s", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), text)
}
