package awsconfig

import (
	"log/slog"
	"os"
	"strings"
)

// Logger returns the JSON logger functions write to (CloudWatch reads one
// JSON object per line), at the level named by LOG_LEVEL.
func Logger() *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(os.Getenv("LOG_LEVEL")) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level}))
}
