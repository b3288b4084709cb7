package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/report"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/sweep"
)

// TableRow is one line of the demo's final access table, read from the
// sandbox tenant itself.
type TableRow = host.SandboxAccount

// DemoReport is what stint demo --json prints.
type DemoReport struct {
	Timeline []string   `json:"timeline"`
	Table    []TableRow `json:"table"`
	// Report is the access report the demo wrote (HTML, in the data
	// directory).
	Report string `json:"report"`
}

func demoCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "A one-minute story on the sandbox tenant: start, extend, end, expire, reconcile",
		Long: `Starts stint on the sandbox tenant in a fresh data directory, sends a stream of
signed HR events (new contractors, an extension, an early termination, a
duplicate, an out-of-order pair, an invalid event), lets a short engagement
expire, runs a reconcile that finds a member added by hand, and prints the
timeline and the final access table as the tenant holds it.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data := g.data
			if !cmd.Flags().Changed("data") && g.cfg.SourceOf("STINT_DATA") != config.FromEnvironment {
				dir, err := os.MkdirTemp("", "stint-demo-")
				if err != nil {
					return err
				}
				data = dir
			}
			report, err := runDemo(cmd.Context(), data, func(line string) {
				if !g.asJSON {
					fmt.Fprintln(g.out, line)
				}
			})
			if err != nil {
				return err
			}
			if g.asJSON {
				return g.printJSON(report)
			}
			fmt.Fprintln(g.out, "\nFinal access, as the sandbox tenant holds it:")
			w := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "CONTRACTOR\tTYPE\tSIGN-IN\tGROUPS")
			for _, r := range report.Table {
				kind, signIn := "member", "enabled"
				if r.Guest {
					kind = "guest"
				}
				if !r.Enabled {
					signIn = "BLOCKED"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Email, kind, signIn, dash(strings.Join(r.Groups, ",")))
			}
			w.Flush()
			fmt.Fprintf(g.out, "\nData kept in %s (stint access --data %s, stint audit --data %s).\n", data, data, data)
			fmt.Fprintf(g.out, "The access report for auditors: %s (open it in a browser; stint report --data %s writes it again).\n", report.Report, data)
			return nil
		},
	}
}

// story is the demo's stream of events, with the times they carry.
func story(now time.Time) []struct{ note, body string } {
	ts := func(d time.Duration) string { return now.Add(d).UTC().Format(time.RFC3339Nano) }
	ev := func(id, typ, eng, email, name string, at time.Duration, data string) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"hr/workday","type":"engagement.%s","time":%q,"subject":%q,"datacontenttype":"application/json",
"data":{"engagementId":%q,"contractor":{"email":%q,"displayName":%q,"company":"Partner Ltd"},"sponsor":{"email":"owner@corp.example"}%s}}`,
			id, typ, ts(at), eng, eng, email, name, data)
	}
	return []struct{ note, body string }{
		{"new contractor Ana, 90 days", ev("demo-1", "started", "ENG-1042", "ana@partner.example", "Ana Lima", -2*time.Minute, `,"startsAt":"`+ts(-time.Hour)+`","endsAt":"`+ts(90*24*time.Hour)+`"`)},
		{"new contractor Bo, GitHub too", ev("demo-2", "started", "ENG-1043", "bo@vendor.example", "Bo Chen", -2*time.Minute, `,"access":["contractor-access","github-org"],"startsAt":"`+ts(-time.Hour)+`","endsAt":"`+ts(30*24*time.Hour)+`"`)},
		{"new contractor Cy, a short engagement (8 s)", ev("demo-3", "started", "ENG-1044", "cy@studio.example", "Cy Park", -2*time.Minute, `,"startsAt":"`+ts(-time.Hour)+`","endsAt":"`+ts(8*time.Second)+`"`)},
		{"Ana's contract extended", ev("demo-4", "extended", "ENG-1042", "ana@partner.example", "Ana Lima", -time.Minute, `,"endsAt":"`+ts(180*24*time.Hour)+`"`)},
		{"Bo terminated early", ev("demo-5", "ended", "ENG-1043", "bo@vendor.example", "Bo Chen", -30*time.Second, "")},
		{"Ana's start again (a duplicate)", ev("demo-1", "started", "ENG-1042", "ana@partner.example", "Ana Lima", -2*time.Minute, `,"startsAt":"`+ts(-time.Hour)+`","endsAt":"`+ts(90*24*time.Hour)+`"`)},
		{"Dee's end, arriving before her start", ev("demo-7", "ended", "ENG-1045", "dee@agency.example", "Dee Ruiz", -20*time.Second, "")},
		{"Dee's start, arriving late", ev("demo-6", "started", "ENG-1045", "dee@agency.example", "Dee Ruiz", -90*time.Second, `,"startsAt":"`+ts(-time.Hour)+`","endsAt":"`+ts(60*24*time.Hour)+`"`)},
		{"an invalid event (no endsAt)", ev("demo-8", "started", "ENG-1046", "eve@partner.example", "Eve", -10*time.Second, "")},
	}
}

// runDemo plays the story on a host in data and reports what happened.
func runDemo(ctx context.Context, data string, say func(string)) (DemoReport, error) {
	var rep DemoReport
	line := func(format string, args ...any) {
		s := time.Now().Format("15:04:05") + "  " + fmt.Sprintf(format, args...)
		rep.Timeline = append(rep.Timeline, s)
		say(s)
	}
	// The demo always runs on the sandbox, with stint's defaults: its story
	// names the sandbox's own access keys, whatever the environment says.
	defaults, err := config.Load(config.Stint, func(string) (string, bool) { return "", false })
	if err != nil {
		return rep, err
	}
	defaults.Policies.BreakGlass = []config.Principal{{Kind: "user", ID: host.SandboxBreakGlass}}
	defaults.Policies.AllowedApps = []string{host.SandboxAllowedApp}
	h, err := host.Open(ctx, host.Options{Config: defaults, Sandbox: true, Data: data, Addr: "127.0.0.1:0", Visibility: 10 * time.Second})
	if err != nil {
		return rep, err
	}
	defer h.Close()
	if err := h.Listen(); err != nil {
		return rep, err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(runCtx) }()
	defer func() { stop(); <-done }()
	line("stint is running against the sandbox tenant; webhook %s", h.URL())
	if err := demoPolicies(ctx, h, line); err != nil {
		return rep, err
	}

	start := time.Now()
	for _, s := range story(start) {
		status, answer, err := post(ctx, h.URL(), h.Secret, []byte(s.body))
		if err != nil {
			return rep, err
		}
		line("HR → %-46s %d %s", s.note, status, brief(answer))
	}
	if err := drain(ctx, h); err != nil {
		return rep, err
	}
	for _, a := range trail(ctx, h.Ledger, start) {
		line("  stint: %s", a)
	}

	if err := h.AddByHand("mallory@old-vendor.example", "contractor-access"); err != nil {
		return rep, err
	}
	line("an admin adds mallory@old-vendor.example to contractor-access by hand")
	for _, p := range h.Sandbox.Policies() {
		if strings.Contains(p.DisplayName, "multifactor") {
			if err := h.Sandbox.SetPolicyState(p.ID, sandbox.PolicyDisabled); err != nil {
				return rep, err
			}
			line("an admin switches off %q by hand", p.DisplayName)
		}
	}

	if wait := time.Until(start.Add(9 * time.Second)); wait > 0 {
		line("waiting %.0fs for Cy's engagement to end…", wait.Seconds())
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(wait):
		}
	}
	mark := time.Now()
	for _, mode := range []string{"tick", "reconcile"} {
		sum, err := h.Sweeper.Run(ctx, sweep.Input{Mode: mode})
		if err != nil {
			return rep, err
		}
		line("%s: examined %d, expired %d, removed %d, disabled %d, added %d, flagged %d", mode, sum.Examined, sum.Expired, sum.Removed, sum.Disabled, sum.Added, sum.Flagged)
		for _, a := range sum.Accounts {
			who := a.Contractor
			if who == "" {
				who = a.UserID
			}
			line("  %s %s: %s", a.Action, who, a.Reason)
		}
		for _, c := range sum.PolicyDrift {
			line("  policy drift: %q %s", c.Name, strings.Join(c.Fields, ", "))
		}
	}
	for _, a := range trail(ctx, h.Ledger, mark) {
		line("  stint: %s", a)
	}
	rep.Table = h.SandboxAccounts()
	access, err := hostReport(ctx, h, time.Now(), defaults.DormantAfter)
	if err != nil {
		return rep, err
	}
	rep.Report = filepath.Join(data, "stint-report.html")
	return rep, writeReport(rep.Report, io.Discard, access, report.WriteHTML)
}

// demoPolicies plans the Conditional Access baseline on the sandbox and
// applies it, report-only.
func demoPolicies(ctx context.Context, h *host.Host, line func(string, ...any)) error {
	plan, err := h.Policy(ctx, host.PolicyRequest{Command: "plan"})
	if err != nil {
		return err
	}
	line("policy plan: %d Conditional Access policies to create, each targeting every allow-listed group, excluding the break-glass account", len(plan.Plan.Changes))
	applied, err := h.Policy(ctx, host.PolicyRequest{Command: "apply"})
	if err != nil {
		return err
	}
	for _, c := range applied.Plan.Changes {
		line("  policy apply: %s %q (report-only)", c.Action, c.Name)
	}
	return nil
}

// drain waits until the queue is empty.
func drain(ctx context.Context, h *host.Host) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		n, err := h.Queue.Len(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("the queue did not drain in 30 s")
}

// trail renders the audit entries since t that say what stint did.
func trail(ctx context.Context, l engagement.Ledger, since time.Time) []string {
	entries, _ := l.Audit(ctx, engagement.AuditQuery{})
	var out []string
	for _, a := range entries {
		if a.At.Before(since.Add(-time.Second)) || strings.HasPrefix(string(a.Action), "sweep.") {
			continue
		}
		out = append(out, fmt.Sprintf("%-24s %-26s %s", a.Action, a.Contractor, a.Detail))
	}
	return out
}

func brief(answer string) string {
	var p struct {
		ID     string `json:"id"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal([]byte(answer), &p) == nil {
		if p.Detail != "" {
			return p.Detail
		}
		return "accepted " + p.ID
	}
	return strings.TrimSpace(answer)
}
