package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/importer"
	"github.com/stintdev/stint/pkg/wire"
)

// ImportResult is what stint import --json prints.
type ImportResult struct {
	File   string `json:"file"`
	Source string `json:"source"`
	DryRun bool   `json:"dryRun"`
	// Zone is where dates without a time were placed.
	Zone string `json:"zone"`
	// Problems are the bad rows, one each; with any, nothing was imported.
	Problems []importer.Problem `json:"problems"`
	importer.Summary
	// Preview is what a dry run found would change in Entra.
	Preview *importer.Preview `json:"preview,omitempty"`
}

func importCmd(g *globals) *cobra.Command {
	var dryRun bool
	var zone string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Turn today's contractor list (CSV or JSON lines) into engagements, as events",
		Long: `Reads a list of contractors, one a row — CSV with a header row, or JSON lines —
with the columns email and end (required), name, company, sponsor, access
(keys of STINT_GROUPS, separated by ; or |; none means STINT_DEFAULT_ACCESS),
start (default: now) and engagementId (default: one engagement per contractor).
Dates are ISO (2027-02-28: the start from 00:00, the end until 23:59:59, in
--zone) or RFC 3339 times with a zone.

Every row is checked first; each bad row is named, "row N, column C: why", and
then nothing is imported (exit 1). Otherwise each row becomes an
engagement.started event from the source stint/import, put on the queue the
webhook uses, for the worker to apply. Importing the same list again is safe:
each row makes the same event again, which is applied once.

--dry-run writes nothing: it reads Entra and says who would be invited, who
added to which group, which groups a changed engagement would lose, and which
members of the allow-listed groups neither the list nor an active engagement
justifies.`,
		Args: cobra.ExactArgs(1),
		PreRunE: func(*cobra.Command, []string) error {
			_, err := loadZone(zone)
			return err
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			loc, _ := loadZone(zone)
			res := ImportResult{File: args[0], Source: importer.Source, DryRun: dryRun, Zone: loc.String(), Problems: []importer.Problem{}}
			rows, read, err := readList(args[0])
			if err != nil {
				return err
			}
			// build checks every row; with a bad one, it prints them and
			// the command ends there.
			build := func(l importer.Ledger, groups map[string]string) ([]importer.Item, error) {
				items, err := buildItems(ctx, l, groups, loc, rows, read)
				var bad importer.Problems
				if errors.As(err, &bad) {
					res.Problems = bad
					return nil, g.printImport(res, err)
				}
				res.Rows = len(items)
				return items, err
			}
			if dryRun {
				return g.previewImport(ctx, func(pl *importer.Planner, l importer.Ledger) error {
					items, err := build(l, pl.Groups)
					if err != nil {
						return err
					}
					bar := g.progress(len(items), "looking up")
					pl.Step = func() { bar.Add(1) }
					pv, err := pl.Preview(ctx, items)
					bar.Finish()
					if err != nil {
						return err
					}
					res.Preview = &pv
					return g.printImport(res, nil)
				})
			}
			return g.enqueueImport(ctx, func(l importer.Ledger, q engagement.Queue, groups map[string]string) error {
				items, err := build(l, groups)
				if err != nil {
					return err
				}
				bar := g.progress(len(items), "importing")
				res.Summary, err = importer.Enqueue(ctx, l, q, items, func() { bar.Add(1) })
				bar.Finish()
				return g.printImport(res, err)
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would change in Entra (invitations, additions, removals, memberships nothing justifies); write nothing")
	cmd.Flags().StringVar(&zone, "zone", "UTC", "the time zone of dates without a time, e.g. Europe/Berlin (the same list must be imported with the same zone to make the same events)")
	return cmd
}

// loadZone reads --zone.
func loadZone(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || strings.EqualFold(name, "local") {
		return nil, fmt.Errorf("--zone %q: want a time zone name such as UTC or Europe/Berlin", name)
	}
	return loc, nil
}

// readList reads the list's rows, saying plainly why a file cannot be
// read.
func readList(path string) ([]importer.Row, importer.Problems, error) {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return nil, nil, fmt.Errorf("import %s: is a directory, not a list", path)
	}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("import %s: does not exist", path)
	case errors.Is(err, fs.ErrPermission):
		return nil, nil, fmt.Errorf("import %s: is not readable (permission denied)", path)
	case err != nil:
		return nil, nil, fmt.Errorf("import %s: %w", path, err)
	}
	defer f.Close()
	rows, problems, err := importer.Read(f)
	switch {
	case err != nil:
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	case len(rows) == 0 && len(problems) == 0:
		return nil, nil, fmt.Errorf("import %s: the list has no rows: nothing to import", path)
	}
	return rows, problems, nil
}

// buildItems turns the rows into events against the allow-list and the
// earlier imports; its error is importer.Problems when a row is bad (those
// read, and those built, in row order).
func buildItems(ctx context.Context, l importer.Ledger, groups map[string]string, loc *time.Location, rows []importer.Row, read importer.Problems) ([]importer.Item, error) {
	imported, err := importer.Imported(ctx, l)
	if err != nil {
		return nil, err
	}
	items, built := importer.Build(rows, importer.Options{Allowed: config.Keys(groups), Zone: loc, Now: time.Now(), Imported: imported})
	problems := append(read, built...)
	if len(problems) > 0 {
		slices.SortStableFunc(problems, func(a, b importer.Problem) int { return cmp.Compare(a.Row, b.Row) })
		return nil, problems
	}
	return items, nil
}

// allowList is the allow-list an import checks access keys against: the
// configured one, or the sandbox's own.
func (g *globals) allowList() (map[string]string, error) {
	switch {
	case g.cfg.Groups != nil:
		return g.cfg.Groups, nil
	case g.onSandbox():
		return host.SandboxGroups, nil
	}
	return nil, fmt.Errorf("STINT_GROUPS is not set: the access keys of the list cannot be checked (set it as for stint serve)")
}

// enqueueImport opens the ledger and the queue the webhook puts events
// on: the embedded queue in the ledger's database, or the Service Bus
// queue STINT_QUEUE_URL names. No tenant is needed: the worker of the
// running stint serve (or the workers on Azure) applies the events.
func (g *globals) enqueueImport(ctx context.Context, run func(importer.Ledger, engagement.Queue, map[string]string) error) error {
	groups, err := g.allowList()
	if err != nil {
		return err
	}
	l, q, err := g.ledger(ctx)
	if err != nil {
		return err
	}
	defer l.Close()
	if g.cfg.QueueURL == "" {
		return run(l, q, groups)
	}
	sb, err := host.OpenServiceBus(g.cfg)
	if err != nil {
		return err
	}
	defer sb.Close()
	return run(l, sb.Queue, groups)
}

// previewImport reads Entra for a dry run: the configured tenant through
// Graph, or the data directory's sandbox tenant, which only the process
// owning the directory serves: this one, or a running stint serve.
func (g *globals) previewImport(ctx context.Context, run func(*importer.Planner, importer.Ledger) error) error {
	// plan runs with dir and the ledger this command opens.
	plan := func(dir importer.Directory, groups map[string]string) error {
		l, _, err := g.ledger(ctx)
		if err != nil {
			return err
		}
		defer l.Close()
		return run(g.planner(dir, l, groups), l)
	}
	if !g.onSandbox() {
		if err := host.TenantConfigured(g.cfg); err != nil {
			return err
		}
		dir, err := wire.Directory(g.cfg, nil, 0)
		if err != nil {
			return err
		}
		return plan(dir, g.cfg.Groups)
	}
	return g.withTenant(ctx, func(h *host.Host) error {
		return run(g.planner(h.Events.Directory, h.Ledger, h.Groups), h.Ledger)
	}, func() error {
		// A running stint serve owns the sandbox tenant: it is read through
		// serve's control channel, the ledger beside it.
		groups, err := g.allowList()
		if err != nil {
			return err
		}
		return plan(host.RemoteDirectory{Data: g.data}, groups)
	})
}

func (g *globals) planner(dir importer.Directory, l engagement.Ledger, groups map[string]string) *importer.Planner {
	return &importer.Planner{Directory: dir, Ledger: l, Groups: groups, DefaultAccess: g.cfg.DefaultAccess, Now: time.Now()}
}

// printImport prints the result, then returns err (the bad rows, a failed
// queueing) for the exit status.
func (g *globals) printImport(res ImportResult, err error) error {
	if g.asJSON {
		if perr := g.printJSON(res); perr != nil {
			return perr
		}
		var bad importer.Problems
		if errors.As(err, &bad) {
			return fmt.Errorf("%d bad row(s); nothing was imported", len(bad))
		}
		return err
	}
	if err != nil {
		return err
	}
	if res.Preview != nil {
		return printPreview(g.out, res)
	}
	then := "."
	if res.Queued > 0 {
		then = "; the worker applies them: see stint access and stint audit."
	}
	fmt.Fprintf(g.out, "stint: imported %s: %d rows; %d events queued, %d already queued, %d already applied (source %s)%s\n",
		res.File, res.Rows, res.Queued, res.AlreadyQueued, res.AlreadyApplied, res.Source, then)
	return nil
}

// printPreview prints a dry run: a line per change, then the counts.
func printPreview(out io.Writer, res ImportResult) error {
	pv := res.Preview
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CHANGE\tROW\tACCOUNT\tGROUPS\tWHEN OR WHY")
	when := func(c importer.Change) string {
		if c.At.IsZero() {
			return "now"
		}
		return "at the start, " + c.At.Local().Format("2006-01-02 15:04")
	}
	for _, c := range pv.Invitations {
		fmt.Fprintf(w, "invite\t%d\t%s\t%s\t%s\n", c.Row, c.Email, strings.Join(c.Access, ","), when(c))
	}
	for _, c := range pv.Additions {
		fmt.Fprintf(w, "add\t%d\t%s\t%s\t%s\n", c.Row, c.Email, strings.Join(c.Access, ","), when(c))
	}
	for _, c := range pv.Unresolved {
		fmt.Fprintf(w, "unresolved\t%d\t%s\t%s\t%s\n", c.Row, c.Email, strings.Join(c.Access, ","), c.Reason)
	}
	for _, a := range pv.Removals {
		fmt.Fprintf(w, "remove\t%d\t%s\t%s\t%s\n", a.Row, a.Name, a.Access, a.Reason)
	}
	for _, a := range pv.Unjustified {
		fmt.Fprintf(w, "unjustified (%s)\t-\t%s\t%s\t%s\n", a.Finding, a.Name, a.Access, a.Reason)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "stint: dry run of %s: %d rows valid; %s. Nothing was written.\n", res.File, res.Rows, pv.Counts())
	return err
}
