package xray_test

import (
	"context"
	"testing"

	"annals/internal/kit/xray"
)

func TestTraceID(t *testing.T) {
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	for _, c := range []struct{ header, want string }{
		{"Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1", root},
		{"Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0", root},
		{"Sampled=1; Root=" + root, root},
		{"Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=0", ""}, // not recorded
		{"Root=" + root, ""}, // no sampling decision: not recorded
		{"Root=1-5759e988-bd862e3fe1be46a99427279;Sampled=1", ""},  // too short
		{"Root=2-5759e988-bd862e3fe1be46a994272793;Sampled=1", ""}, // another version
		{"Root=1-5759e988-BD862E3FE1BE46A994272793;Sampled=1", ""}, // not as X-Ray writes it
		{"Root=1-5759e988-bd862e3fe1be46a99427279z;Sampled=1", ""}, // not hex
		{"Root=1-5759e988xbd862e3fe1be46a994272793;Sampled=1", ""}, // no separator
		{"", ""},
	} {
		if got := xray.TraceID(c.header); got != c.want {
			t.Errorf("TraceID(%q) = %q, want %q", c.header, got, c.want)
		}
	}
}

func TestFromContext(t *testing.T) {
	if got := xray.FromContext(context.Background()); got != "" {
		t.Errorf("outside Lambda: %q", got)
	}
	// As aws-lambda-go's invoke loop puts it.
	//lint:ignore SA1029 the key is aws-lambda-go's, a plain string
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	if got := xray.FromContext(ctx); got != "1-5759e988-bd862e3fe1be46a994272793" {
		t.Errorf("in an invocation: %q", got)
	}
}
