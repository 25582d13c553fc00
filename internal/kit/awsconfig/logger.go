package awsconfig

import (
	"io"
	"log/slog"
	"os"
	"strings"
)

// Logger returns the JSON logger functions write to (CloudWatch reads one
// JSON object per line), at the level named by LOG_LEVEL.
func Logger() *slog.Logger {
	return newLogger(os.Stdout, os.Getenv("LOG_LEVEL"))
}

// NewLogger returns a JSON logger to w at the named level (debug, info,
// warn, error; info when empty or unknown), for functions hosted together
// in one local process.
func NewLogger(w io.Writer, level string) *slog.Logger { return newLogger(w, level) }

func newLogger(w io.Writer, name string) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(name) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
