package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"time"

	"annals/internal/ledger/soak"
)

// soak runs the project's own soak against a running stack over its HTTP
// API: concurrent clients on shared accounts, then the checks. It exits 1
// on any violation, each named in the message.
func (c cli) soak(ctx context.Context, args []string) error {
	fs := c.flags("soak")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage:
  annals soak [--url U] [--clients N] [--accounts N] [--duration D] [--seed N] [--converge D]

Opens --accounts accounts on the stack at --url, then for --duration sends
deposits, withdrawals, transfers (some crossing), closes and reads on them
from --clients concurrent clients, with and without Idempotency-Key, some
keyed requests twice in a row or at once. Then it checks: no 5xx, replays
identical to the first answer, every accepted command exactly once in the
audit trail and every refused one nowhere, every transfer settled, every
view equal to the ledger's fold of its audit trail within --converge, and
the money adding up. A progress line goes to stderr while it runs, the
summary to stdout; any violation is an exit status of 1.

flags:
`)
		fs.PrintDefaults()
	}
	base := fs.String("url", "http://127.0.0.1:3000", "the API's base URL (make local serves it)")
	clients := fs.Int("clients", 8, "concurrent clients")
	accounts := fs.Int("accounts", 8, "accounts the clients share")
	duration := fs.Duration("duration", 30*time.Second, "how long the load lasts")
	seed := fs.Uint64("seed", 0, "chooses the mix (0: a random one, printed)")
	converge := fs.Duration("converge", time.Minute, "how long the checks wait for transfers to settle and views to catch up")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("soak: unexpected arguments %q", fs.Args())
	}
	u, err := url.Parse(*base)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return usagef("soak: --url %q is not an http(s) URL", *base)
	case *clients < 1 || *accounts < 2:
		return usagef("soak: --clients must be at least 1 and --accounts at least 2")
	case *duration <= 0 || *converge <= 0:
		return usagef("soak: --duration and --converge must be positive")
	}
	if *seed == 0 {
		*seed = rand.Uint64()
	}
	fmt.Fprintf(c.stderr, "soak: %d clients on %d accounts at %s for %s, seed %d\n", *clients, *accounts, *base, *duration, *seed)
	progressEvery := 10 * time.Second
	if c.terminal {
		progressEvery = 2 * time.Second
	}
	rep, err := soak.Run(ctx, soak.Config{
		URL: *base, Clients: *clients, Accounts: *accounts, Duration: *duration, Seed: *seed,
		Converge: *converge, Progress: c.stderr, ProgressEvery: progressEvery,
	})
	if rep.Load > 0 {
		fmt.Fprint(c.stdout, rep.Summary())
	}
	return err
}
