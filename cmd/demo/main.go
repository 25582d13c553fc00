// Demo walks through the ledger against a running stack (`make local`),
// printing each step as the curl command that does it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"annals/internal/ledger/demo"
)

func main() {
	converge := flag.Duration("converge", 30*time.Second, "how long a read waits for the views to catch up")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: demo [-converge 30s] [URL]   (URL defaults to http://127.0.0.1:3000)")
		flag.PrintDefaults()
	}
	flag.Parse()
	url := "http://127.0.0.1:3000"
	switch flag.NArg() {
	case 0:
	case 1:
		url = flag.Arg(0)
	default:
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	w := &demo.Walkthrough{URL: url, Out: os.Stdout, Converge: *converge}
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
