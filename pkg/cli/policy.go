package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/ledger"
	"github.com/stintdev/stint/pkg/policy"
	"github.com/stintdev/stint/pkg/wire"
)

func policyCmd(g *globals) *cobra.Command {
	group := &cobra.Command{
		Use:   "policy",
		Short: "The Conditional Access policies for the contractor groups, as code: plan, apply, export",
		Long: `stint manages Conditional Access policies that target every allow-listed group
(STINT_GROUPS) and exclude the break-glass accounts (STINT_BREAK_GLASS): the
built-in baseline (require MFA, allowed apps only, sign-in frequency, no legacy
authentication), or the files in STINT_POLICIES. It owns only the policies it
created, and never changes another. Reading needs Policy.Read.All; apply needs
Policy.ReadWrite.ConditionalAccess as well (an operator's app, not the runtime's).`,
	}
	var enforce bool
	plan := &cobra.Command{
		Use:   "plan",
		Short: "Compare the desired policies with the tenant; exit 0 in sync, 2 with changes pending, 1 on error",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.policy(cmd.Context(), host.PolicyRequest{Command: "plan", Enforce: enforce})
			if err != nil {
				return err
			}
			if err := g.printPlan(a.Plan, false); err != nil {
				return err
			}
			if a.Plan.Pending() {
				return exitCode(2)
			}
			return nil
		},
	}
	plan.Flags().BoolVar(&enforce, "enforce", false, "plan as if stint policy apply --enforce: the policies enabled")
	apply := &cobra.Command{
		Use:   "apply",
		Short: "Make the tenant match: create the missing policies (report-only unless --enforce), update the changed ones",
		Long: `Creates the policies stint manages that are missing — report-only
(enabledForReportingButNotEnforced) until you choose to enforce — and updates
the ones that differ; a policy stint created that was deleted by hand is
created again, and reported. In sync, it writes nothing. --enforce switches
stint's policies to enabled and records that choice, so that later plans,
applies and the reconcile want them enabled. A policy stint did not create
that bears one of its names stops the apply before any write.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.policy(cmd.Context(), host.PolicyRequest{Command: "apply", Enforce: enforce})
			if err != nil {
				return err
			}
			return g.printPlan(a.Plan, true)
		},
	}
	apply.Flags().BoolVar(&enforce, "enforce", false, "enable stint's policies (and remember to keep them enabled)")
	group.AddCommand(plan, apply, policyExportCmd(g))
	needsSubcommand(group)
	return group
}

// policyExportCmd is stint policy export.
func policyExportCmd(g *globals) *cobra.Command {
	var dir string
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the tenant's policies that target the allow-listed groups as files, to start from what exists",
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.policy(cmd.Context(), host.PolicyRequest{Command: "export"})
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			written := []string{}
			for _, f := range a.Files {
				path := filepath.Join(dir, f.Name)
				if err := os.WriteFile(path, f.Body, 0o644); err != nil {
					return err
				}
				written = append(written, path)
			}
			if g.asJSON {
				return g.printJSON(written)
			}
			for _, p := range written {
				fmt.Fprintln(g.out, p)
			}
			fmt.Fprintf(g.out, "%d policies written to %s\n", len(written), dir)
			return nil
		},
	}
	export.Flags().StringVar(&dir, "dir", "policies", "where to write the files")
	return export
}

// policy runs a policy command: in the host of a sandbox data directory
// (or the serve that owns it), or on the configured tenant, with the
// deployment's ledger (STINT_STORE) or the data directory's.
func (g *globals) policy(ctx context.Context, req host.PolicyRequest) (host.PolicyAnswer, error) {
	var a host.PolicyAnswer
	if g.onSandbox() {
		err := g.withTenant(ctx, func(h *host.Host) (err error) {
			a, err = h.Policy(ctx, req)
			return err
		}, func() (err error) {
			a, err = host.RemotePolicy(ctx, g.data, req)
			return err
		})
		return a, err
	}
	if err := host.TenantConfigured(g.cfg); err != nil {
		return a, err
	}
	log := slog.New(slog.NewTextHandler(g.errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir, err := wire.Directory(g.cfg, log, 0)
	if err != nil {
		return a, err
	}
	if req.Command == "export" {
		a.Files, err = policy.Export(ctx, dir, g.cfg.Groups)
		return a, err
	}
	store := g.cfg.Store
	if store == "" {
		path := filepath.Join(g.data, "stint.db")
		if _, err := os.Stat(path); err != nil {
			return a, fmt.Errorf("no ledger to record stint's policies in: set STINT_STORE to the deployment's (dynamodb://table), or pass the --data of the stint serve that runs against this tenant")
		}
		store = "sqlite://" + path
	}
	l, err := ledger.Open(ctx, store)
	if err != nil {
		return a, err
	}
	defer l.Close()
	m, err := wire.Policies(dir, l, g.cfg.Groups, g.cfg.Policies, "stint policy apply", log)
	if err != nil {
		return a, err
	}
	if req.Command == "apply" {
		a.Plan, err = m.Apply(ctx, req.Enforce)
	} else {
		a.Plan, err = m.Plan(ctx, req.Enforce)
	}
	return a, err
}

// printPlan prints a plan: one line per policy.
func (g *globals) printPlan(p policy.Plan, applied bool) error {
	if g.asJSON {
		p.Changes = nonNil(p.Changes)
		return g.printJSON(p)
	}
	state := "report-only"
	if p.Enforced {
		state = "enabled"
	}
	for _, c := range p.Changes {
		action := string(c.Action)
		if applied && c.Action != policy.InSync && c.Action != policy.Conflict {
			action += "d"
		}
		line := fmt.Sprintf("%-10s %s", action, c.Name)
		if len(c.Fields) > 0 {
			line += ": " + strings.Join(c.Fields, ", ")
		}
		if c.Detail != "" {
			line += " (" + c.Detail + ")"
		}
		fmt.Fprintln(g.out, line)
	}
	fmt.Fprintf(g.out, "%d policies, wanted %s\n", len(p.Changes), state)
	return nil
}

// exitCode is an error that only sets the exit code: the output said it
// all.
type exitCode int

func (e exitCode) Error() string { return "" }
