package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/policy"
	"github.com/stintdev/stint/pkg/report"
	"github.com/stintdev/stint/pkg/wire"
)

// reportFormats are the writers of stint report, by --format.
var reportFormats = map[string]func(io.Writer, report.Report) error{
	"html": report.WriteHTML, "csv": report.WriteCSV, "json": report.WriteJSON,
}

// ReportWritten is what stint report --json prints.
type ReportWritten struct {
	Out     string         `json:"out"`
	Format  string         `json:"format"`
	Summary report.Summary `json:"summary"`
	Notes   []string       `json:"notes"`
}

func reportCmd(g *globals) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "The access report for auditors: who has access, since and until when, sponsor, sign-ins, flags",
		Long: `Writes the access report: one row per contractor (and per ghost account) with
their engagements, the groups they hold in Entra, the account and invitation
state, the last sign-ins, and the flags ghost, drift, dormant, unredeemed,
ending-soon (14 days), signed-in-after-end and not-covered (by Conditional
Access). --format html (the default) is one self-contained page that works
offline and prints; csv opens in Excel; json is for scripts. --out defaults
to stint-report.<format> in the current directory; - writes to stdout. The
file holds personal data: it is written readable by you only (0600).

Entra is read directly (the configured tenant), or through the sandbox of the
data directory, Entra's sponsors included. The last sign-ins and the
sign-ins after the end are the reconcile's (it reads them with
AuditLog.Read.All and Entra ID P1; without them they show as unknown). What
cannot be read is said at the top of the report.`,
		PreRunE: func(*cobra.Command, []string) error {
			if _, ok := reportFormats[format]; !ok {
				return fmt.Errorf("--format %q: want html, csv or json", format)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				out = "stint-report." + format
			}
			rep, err := g.report(cmd.Context(), time.Now())
			if err != nil {
				return err
			}
			if err := writeReport(out, g.out, rep, reportFormats[format]); err != nil {
				return err
			}
			if out == "-" {
				return nil
			}
			if g.asJSON {
				return g.printJSON(ReportWritten{Out: out, Format: format, Summary: rep.Summary, Notes: rep.Notes})
			}
			s := rep.Summary
			fmt.Fprintf(g.out, "stint: report written to %s: %d contractors, %d active, %d ending soon, %d ghosts, %d signed in after the end\n",
				out, s.Contractors, s.Active, s.EndingSoon, s.Ghosts, s.Critical)
			for _, n := range rep.Notes {
				fmt.Fprintln(g.errOut, "stint: note: "+n)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "html", "html, csv or json")
	cmd.Flags().StringVar(&out, "out", "", "the file to write (default stint-report.<format>; - for stdout)")
	return cmd
}

// report gathers the ledger, Entra and the Conditional Access coverage,
// and builds the report at now.
func (g *globals) report(ctx context.Context, now time.Time) (report.Report, error) {
	l, _, err := g.ledger(ctx)
	if err != nil {
		return report.Report{}, err
	}
	defer l.Close()
	src := report.Sources{Ledger: l, Now: now, DormantAfter: g.cfg.DormantAfter, EndingWithin: report.DefaultEndingWithin}
	var rep report.Report
	gather := func() error {
		in, err := report.Gather(ctx, src)
		if err != nil {
			return err
		}
		rep = report.Build(in)
		return nil
	}
	if !g.onSandbox() {
		if err := host.TenantConfigured(g.cfg); err != nil {
			return report.Report{}, err
		}
		dir, err := wire.Directory(g.cfg, nil, 0)
		if err != nil {
			return report.Report{}, err
		}
		src.Directory, src.Coverage = report.Entra{Reader: dir, Groups: g.cfg.Groups, Sponsors: sponsors(dir)}, coverage(dir, g.cfg.Groups)
		return rep, gather()
	}
	err = g.withTenant(ctx, func(h *host.Host) error {
		rep, err = hostReport(ctx, h, now, g.cfg.DormantAfter)
		return err
	}, func() error {
		// A running serve owns the sandbox; what its control channel
		// offers (host.RemoteAccounts) lacks the account details.
		src.Directory = unreadable("a running stint serve owns the sandbox tenant: stop it to read Entra for the report")
		return gather()
	})
	return rep, err
}

// hostReport builds the report from a host's ledger and its directory
// (the sandbox's, or the configured tenant's).
func hostReport(ctx context.Context, h *host.Host, now time.Time, dormantAfter time.Duration) (report.Report, error) {
	src := report.Sources{Ledger: h.Ledger, Now: now, DormantAfter: dormantAfter, EndingWithin: report.DefaultEndingWithin,
		Directory: report.Entra{Reader: h.Events.Directory, Groups: h.Groups, Sponsors: sponsors(h.Events.Directory)}}
	if t, ok := h.Events.Directory.(policy.Tenant); ok {
		src.Coverage = coverage(t, h.Groups)
	}
	in, err := report.Gather(ctx, src)
	if err != nil {
		return report.Report{}, err
	}
	return report.Build(in), nil
}

// coverage reads which access keys' groups an enabled Conditional Access
// policy requiring MFA governs.
func coverage(t policy.Tenant, groups map[string]string) func(context.Context) (map[string]bool, error) {
	return func(ctx context.Context) (map[string]bool, error) {
		covers, err := policy.Covers(ctx, t, groups)
		if err != nil {
			return nil, err
		}
		out := map[string]bool{}
		for _, c := range covers {
			out[c.Key] = c.Covered()
		}
		return out, nil
	}
}

// sponsors reads Entra's sponsors of an account through the Graph
// adapter (User.Read.All), as the mail of each, or a group's name; nil
// for a directory that cannot.
func sponsors(d engagement.Directory) func(context.Context, string) ([]string, error) {
	r, ok := d.(interface {
		Sponsors(ctx context.Context, userID string) ([]entra.Sponsor, error)
	})
	if !ok {
		return nil
	}
	return func(ctx context.Context, id string) ([]string, error) {
		found, err := r.Sponsors(ctx, id)
		var out []string
		for _, s := range found {
			out = append(out, cmp.Or(s.Mail, s.DisplayName, s.ID))
		}
		return out, err
	}
}

// unreadable is a report.Directory that says why Entra is not read.
type unreadable string

func (u unreadable) Accounts(context.Context, []string) (map[string]report.Account, error) {
	return nil, fmt.Errorf("%s", string(u))
}

// writeReport writes the report to path ("-": stdout), readable by the
// owner only, through a temporary file renamed into place, so that a
// failed write leaves no half report.
func writeReport(path string, stdout io.Writer, rep report.Report, write func(io.Writer, report.Report) error) error {
	if path == "-" {
		return write(stdout, rep)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".stint-report-*")
	if err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("--out %s: %w", path, err)
	}
	if err := write(f, rep); err != nil {
		f.Close()
		return fmt.Errorf("--out %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	return nil
}

// The report reads Entra through stint's own Directory.
var _ report.Reader = engagement.Directory(nil)
