// Package xray reads the X-Ray trace header Lambda gives each invocation,
// so that what an invocation records and logs can name the trace X-Ray
// keeps of it. It links no X-Ray SDK: Lambda's active tracing makes the
// segments (docs/operations.md, "Following a command").
package xray

import (
	"context"
	"strings"
)

// contextKey is where aws-lambda-go puts the invocation's trace header
// (Lambda-Runtime-Trace-Id). It also sets _X_AMZN_TRACE_ID, but only while
// an instance serves one invocation at a time: the context is the one
// source that is always the invocation's own.
const contextKey = "x-amzn-trace-id"

// Header returns the invocation's trace header, e.g.
// Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1,
// or "" outside Lambda.
func Header(ctx context.Context) string {
	h, _ := ctx.Value(contextKey).(string)
	return h
}

// TraceID returns the trace id (the header's Root) of a header whose trace
// X-Ray records (Sampled=1), and "" for any other: an id X-Ray did not
// record leads nowhere, and would only lengthen what carries it.
func TraceID(header string) string {
	var root string
	sampled := false
	for part := range strings.SplitSeq(header, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			root = v
		case "Sampled":
			sampled = v == "1"
		}
	}
	if !sampled || !validRoot(root) {
		return ""
	}
	return root
}

// FromContext is the trace id of the invocation ctx belongs to, when X-Ray
// records it.
func FromContext(ctx context.Context) string { return TraceID(Header(ctx)) }

// validRoot reports whether id is a trace id as X-Ray writes it: 1-, eight
// hex digits of time, -, 24 hex digits.
func validRoot(id string) bool {
	if len(id) != 35 || id[:2] != "1-" || id[10] != '-' {
		return false
	}
	for i, c := range id[2:] {
		if i == 8 {
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ConsoleURL is where the AWS console shows a trace, in region.
func ConsoleURL(region, traceID string) string {
	return "https://console.aws.amazon.com/cloudwatch/home?region=" + region + "#xray:traces/" + traceID
}
