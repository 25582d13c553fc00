package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"annals/internal/kit/awsconfig/defaultchain"
	"annals/internal/kit/eventstore"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/viewtable"
	"annals/internal/ledger/views"
)

// quarantine runs the quarantine subcommands: list.
func (c cli) quarantine(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "list" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprint(c.stdout, "usage: annals quarantine list [--view V] [flags]\n")
			return nil
		}
		return usagef("quarantine: say what to do: annals quarantine list")
	}
	return c.quarantineList(ctx, args[1:])
}

// quarantined is one stream a view quarantined.
type quarantined struct {
	view   string
	stream eventstore.StreamID
	pos    projection.Position
}

// quarantineList prints the streams each view holds quarantined, read from
// the views' tables, and a summary line; it fails (exit 1) when there are
// any, so that a script can tell.
func (c cli) quarantineList(ctx context.Context, args []string) error {
	fs := c.flags("quarantine list")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: annals quarantine list [--view V] [flags]

Lists the streams the views hold quarantined (a poison event, an envelope
that did not decode), with the version each stopped at and why, read from
the views' tables: each is scanned whole (DynamoDB bills every item a
scan reads, filtered or not: about one read unit per 8 KB, eventually
consistent). The exit code is 1 when any stream is quarantined; lift one
with annals redrive --stream KEY --lift once its cause is fixed.

flags:
`)
		fs.PrintDefaults()
	}
	view := fs.String("view", "all", "the view(s) to list: "+strings.Join(views.Names(), ", ")+" or all")
	tables := map[string]*string{}
	for _, v := range views.All {
		tables[v.Name] = fs.String(v.Name+"-table", c.envDefault(v.Env), fmt.Sprintf("the %s view's table (default $%s)", v.Name, v.Env))
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("quarantine list: unexpected arguments %q", fs.Args())
	}
	var chosen []views.Definition
	needs := map[string]string{}
	for _, v := range views.All {
		if *view == "all" || *view == v.Name {
			chosen = append(chosen, v)
			needs[v.Name+"-table"] = v.Env
		}
	}
	if len(chosen) == 0 {
		return usagef("quarantine list: unknown --view %q (%s or all)", *view, strings.Join(views.Names(), ", "))
	}
	if err := required(fs, needs, slices.Sorted(maps.Keys(needs))...); err != nil {
		return err
	}
	cfg, err := defaultchain.Load(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	db := dynamodb.NewFromConfig(cfg)

	var (
		mu      sync.Mutex
		found   []quarantined
		scanned = map[string]viewtable.Scanned{}
	)
	status := c.startStatus(func(elapsed time.Duration, bar bool) string {
		mu.Lock()
		defer mu.Unlock()
		items := 0
		for _, s := range scanned {
			items += s.Items
		}
		text := fmt.Sprintf("quarantine: %d of %d view(s) scanned, %d items read, %d quarantined, %s",
			len(scanned), len(chosen), items, len(found), elapsed.Round(time.Second))
		if bar {
			return fmt.Sprintf("%-90s", text)
		}
		return text
	})
	for _, v := range chosen {
		table := *tables[v.Name]
		done, err := viewtable.Quarantined(ctx, db, table, func(tenant, id string, pos projection.Position) error {
			mu.Lock()
			defer mu.Unlock()
			found = append(found, quarantined{view: v.Name, stream: eventstore.StreamID{Tenant: tenant, Category: v.Category, ID: id}, pos: pos})
			return nil
		}, nil)
		mu.Lock()
		scanned[v.Name] = done
		mu.Unlock()
		if err != nil {
			status.stop()
			return fmt.Errorf("quarantine list: the %s view: %w", v.Name, err)
		}
	}
	status.stop()

	slices.SortFunc(found, func(a, b quarantined) int {
		return strings.Compare(a.view+" "+a.stream.Key(), b.view+" "+b.stream.Key())
	})
	if len(found) > 0 {
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "VIEW\tSTREAM\tAPPLIED\tSTOPPED AT\tLAST APPLIED\tREASON")
		for _, q := range found {
			updated := "-"
			if !q.pos.UpdatedAt.IsZero() {
				updated = q.pos.UpdatedAt.UTC().Format(timeFormat)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", q.view, q.stream, q.pos.Version, q.pos.Quarantine.At, updated, q.pos.Quarantine.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	perView := map[string]int{}
	for _, q := range found {
		perView[q.view]++
	}
	var parts []string
	items, units := 0, 0.0
	for _, v := range chosen {
		parts = append(parts, fmt.Sprintf("%s %d", v.Name, perView[v.Name]))
		items, units = items+scanned[v.Name].Items, units+scanned[v.Name].ReadUnits
	}
	fmt.Fprintf(c.stdout, "%d quarantined stream(s) (%s); %d item(s) read, %.1f read units\n", len(found), strings.Join(parts, ", "), items, units)
	if len(found) > 0 {
		return fmt.Errorf("quarantine list: %d stream(s) quarantined; once the cause is fixed: annals redrive --stream KEY --lift", len(found))
	}
	return nil
}
