package httpapitest

import (
	"context"
	"io"
	"log/slog"
	"sync"
)

// Sums is what the request lines of one handler added up to.
type Sums struct {
	Lines    int
	Requests int64 // ddbRequests
	RCU, WCU float64
	Warnings []string // messages logged at warn or above
}

// LineCounter adds up the request lines httpapi.Serve logs under one
// message, on their way to a JSON handler that writes nowhere: the handler
// under a benchmark still pays for encoding its lines.
type LineCounter struct {
	msg  string
	mu   sync.Mutex
	sums Sums
}

// NewLineCounter counts the lines logged with msg ("command", "query").
func NewLineCounter(msg string) *LineCounter { return &LineCounter{msg: msg} }

// Logger is the logger to give the handler.
func (c *LineCounter) Logger() *slog.Logger {
	return slog.New(countingHandler{Handler: slog.NewJSONHandler(io.Discard, nil), c: c})
}

// Take returns the sums so far and starts again from zero.
func (c *LineCounter) Take() Sums {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sums
	c.sums = Sums{}
	return s
}

type countingHandler struct {
	slog.Handler
	c *LineCounter
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	c := h.c
	c.mu.Lock()
	if r.Message == c.msg {
		c.sums.Lines++
		r.Attrs(func(a slog.Attr) bool {
			v := a.Value.Resolve()
			switch a.Key {
			case "ddbRequests":
				c.sums.Requests += v.Int64()
			case "rcu":
				c.sums.RCU += v.Float64()
			case "wcu":
				c.sums.WCU += v.Float64()
			}
			return true
		})
	}
	if r.Level >= slog.LevelWarn {
		c.sums.Warnings = append(c.sums.Warnings, r.Message)
	}
	c.mu.Unlock()
	return h.Handler.Handle(ctx, r)
}

func (h countingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return countingHandler{Handler: h.Handler.WithAttrs(attrs), c: h.c}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{Handler: h.Handler.WithGroup(name), c: h.c}
}
