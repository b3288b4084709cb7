package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/sweep"
)

func auditCmd(g *globals) *cobra.Command {
	var contractor string
	var limit int
	var follow bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "The audit trail, oldest first",
		PreRunE: func(*cobra.Command, []string) error {
			return checkLimit(limit)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, _, err := g.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer l.Close()
			if follow {
				return followAudit(cmd.Context(), l, g.out, time.Second, limit)
			}
			entries, err := l.Audit(cmd.Context(), engagement.AuditQuery{Contractor: event.ContractorKey(contractor), Limit: limit})
			if err != nil {
				return err
			}
			if g.asJSON {
				return g.printJSON(nonNil(entries))
			}
			w := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "AT\tCONTRACTOR\tACTION\tBY\tDETAIL")
			for _, a := range entries {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.At.Local().Format("2006-01-02 15:04:05"), a.Contractor, a.Action, a.Actor, a.Detail)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&contractor, "contractor", "", "only this contractor's entries (email)")
	cmd.Flags().IntVar(&limit, "limit", 0, "only the newest N entries (0, the default: every entry); with --follow, the newest N before the new ones (default none)")
	cmd.Flags().BoolVar(&follow, "follow", false, "stream new entries as JSON lines (events/schema/audit-entry.v1.json) until interrupted, for a SIEM")
	cmd.MarkFlagsMutuallyExclusive("follow", "contractor")
	return cmd
}

func sweepCmd(g *globals) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "sweep tick|reconcile",
		Short: "Run the tick or the reconcile once, now",
		Long: `Runs the tick (activate due starts, expire due ends) or the reconcile (compare
the members of the allow-listed groups with the ledger) once, and prints its
summary. Exits 1 when the summary counts errors: the accounts marked failed
were not brought in line (the audit trail says why).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("missing mode for %q: want tick or reconcile", cmd.CommandPath())
			}
			return cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)(cmd, args)
		},
		ValidArgs: []string{"tick", "reconcile"},
		RunE: func(cmd *cobra.Command, args []string) error {
			in := sweep.Input{Mode: args[0], DryRun: dryRun}
			var sum sweep.Summary
			err := g.withTenant(cmd.Context(), func(h *host.Host) (err error) {
				sum, err = h.Sweeper.Run(cmd.Context(), in)
				return err
			}, func() (err error) {
				sum, err = host.Sweep(cmd.Context(), g.data, in)
				return err
			})
			if err != nil {
				return err
			}
			if g.asJSON {
				sum.Accounts = nonNil(sum.Accounts)
				err = g.printJSON(sum)
			} else {
				printSummary(g.out, sum)
			}
			if err != nil {
				return err
			}
			return sweepErrors(sum)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would change, change nothing")
	return cmd
}

// sweepErrors fails the command when the sweep could not settle some
// accounts, so that a scheduler or a script sees it; the summary printed
// before names them.
func sweepErrors(s sweep.Summary) error {
	if s.Errors == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d error(s): the accounts marked failed above were not brought in line; see why with stint audit --contractor EMAIL", s.Mode, s.Errors)
}

func printSummary(w io.Writer, s sweep.Summary) {
	dry := ""
	if s.DryRun {
		dry = " (dry run)"
	}
	if s.Skipped {
		fmt.Fprintf(w, "%s: skipped: another %s is running (it holds the lease)\n", s.Mode, s.Mode)
		return
	}
	fmt.Fprintf(w, "%s%s: examined %d, activated %d, expired %d, added %d, removed %d, disabled %d, flagged %d, errors %d\n",
		s.Mode, dry, s.Examined, s.Activated, s.Expired, s.Added, s.Removed, s.Disabled, s.Flagged, s.Errors)
	for _, a := range s.Accounts {
		who := a.Contractor
		if who == "" {
			who = a.UserID
		}
		fmt.Fprintf(w, "  %-14s %s %s: %s\n", a.Action, who, a.Group, a.Reason)
	}
}

func dlqCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "The events that could not be applied: list, replay, drop"}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the dead letters with their reasons",
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := g.deadLetters(cmd.Context())
			if err != nil {
				return err
			}
			defer q.Close()
			dead, err := q.DeadLetters(cmd.Context())
			if err != nil {
				return err
			}
			if g.asJSON {
				return g.printJSON(nonNil(dead))
			}
			w := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SEQ\tEVENT\tCONTRACTOR\tAT\tREASON")
			for _, d := range dead {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", d.Seq, d.ID, d.Group, d.At.Local().Format("2006-01-02 15:04:05"), d.Reason)
			}
			return w.Flush()
		},
	})
	cmd.AddCommand(dlqTakeCmd(g, "replay"), dlqTakeCmd(g, "drop"))
	needsSubcommand(cmd)
	return cmd
}

// DLQAction is what stint dlq replay or drop did.
type DLQAction struct {
	// Action is "replayed" (back on the queue) or "dropped" (deleted).
	Action     string `json:"action"`
	Seq        int64  `json:"seq"`
	Event      string `json:"event"`
	Contractor string `json:"contractor"`
}

// dlqTakeCmd is stint dlq replay or stint dlq drop.
func dlqTakeCmd(g *globals, verb string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " SEQ",
		Short: map[string]string{"replay": "Put a dead letter back on the queue, once its cause is fixed", "drop": "Delete a dead letter for good"}[verb],
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := parseSeq(args[0])
			if err != nil {
				return err
			}
			q, err := g.deadLetters(cmd.Context())
			if err != nil {
				return err
			}
			defer q.Close()
			dead, err := q.DeadLetters(cmd.Context())
			if err != nil {
				return err
			}
			done := DLQAction{Seq: seq}
			for _, d := range dead {
				if d.Seq == seq {
					done.Event, done.Contractor = d.ID, d.Group
				}
			}
			if verb == "replay" {
				done.Action, err = "replayed", q.Replay(cmd.Context(), seq)
			} else {
				done.Action, err = "dropped", q.Drop(cmd.Context(), seq)
			}
			if err != nil {
				return err
			}
			if g.asJSON {
				return g.printJSON(done)
			}
			fmt.Fprintf(g.out, "%s dead letter %d: event %s of %s\n", done.Action, seq, done.Event, done.Contractor)
			return nil
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
