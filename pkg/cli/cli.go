// Package cli is the stint command: the single-process host (serve), the
// newcomer's demo, and the operator's tools. Every command has --help,
// prints for people by default and JSON with --json.
package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/queue/embedded"
)

// globals are the flags every command shares, and the configuration.
type globals struct {
	cfg     config.Config
	cfgErr  error
	data    string
	sandbox bool
	asJSON  bool
	out     io.Writer
	errOut  io.Writer
}

// Execute runs the command line and returns the exit code. lookup reads
// the environment (os.LookupEnv): the configuration is loaded once, here.
func Execute(args []string, stdout, stderr io.Writer, lookup config.Lookup) int {
	g := &globals{out: stdout, errOut: stderr}
	g.cfg, g.cfgErr = config.Load(config.Stint, lookup)
	root := &cobra.Command{
		Use:           "stint",
		Short:         "Contractor access in Microsoft Entra ID that ends when the contract does",
		SilenceUsage:  true,
		SilenceErrors: true,
		// The configuration and the flags are checked before any command
		// starts anything.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.cfgErr != nil && cmd.Name() != "config" && cmd.Name() != "version" {
				return fmt.Errorf("the configuration has problems (see stint config):\n%w", g.cfgErr)
			}
			return checkData(g.data)
		},
	}
	root.PersistentFlags().StringVar(&g.data, "data", cmp.Or(g.cfg.Data, ".stint"), "data directory: ledger, queue, sandbox tenant, webhook secret (env STINT_DATA)")
	root.PersistentFlags().BoolVar(&g.sandbox, "sandbox", false, "run against the sandbox tenant kept in the data directory, not the configured tenant (operator commands follow the data directory's own choice)")
	root.PersistentFlags().BoolVar(&g.asJSON, "json", false, "print JSON for scripts")
	root.AddCommand(serveCmd(g), demoCmd(g), sendCmd(g), importCmd(g), accessCmd(g), auditCmd(g), sweepCmd(g), dlqCmd(g), checkCmd(g), notifyCmd(g), configCmd(g), policyCmd(g), reportCmd(g), migrateCmd(g), versionCmd(g))
	root.Version = ReadVersion().Version
	root.SetVersionTemplate(versionTemplate())
	needsSubcommand(root)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			return int(code)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "stint: ") {
			msg = "stint: " + msg
		}
		fmt.Fprintln(stderr, msg)
		return 1
	}
	return 0
}

// needsSubcommand makes a command group fail when its subcommand is missing
// or unknown, with cobra's suggestions: left alone, cobra prints the help
// and exits 0 for a group below the root, so a typo in a script goes
// unnoticed.
func needsSubcommand(group *cobra.Command) {
	if group.SuggestionsMinimumDistance <= 0 {
		group.SuggestionsMinimumDistance = 2
	}
	group.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			var names []string
			for _, c := range cmd.Commands() {
				if c.IsAvailableCommand() && c.Name() != "help" {
					names = append(names, c.Name())
				}
			}
			return fmt.Errorf("missing command for %q: want one of %s (see %s --help)", cmd.CommandPath(), strings.Join(names, ", "), cmd.CommandPath())
		}
		hint := ""
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			hint = "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
		}
		return fmt.Errorf("unknown command %q for %q%s", args[0], cmd.CommandPath(), hint)
	}
	// Never reached: Args refuses every call that would run the group.
	group.RunE = func(*cobra.Command, []string) error { return nil }
}

// nonNil is s, or an empty slice for nil: --json prints [] rather than null
// for an empty list, so that scripts can iterate over it.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// printJSON writes v as indented JSON.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ledger opens the data directory's ledger and queue, read-write, for the
// operator commands that need no tenant.
func (g *globals) ledger(ctx context.Context) (host.Store, *embedded.Queue, error) {
	l, err := host.OpenExisting(ctx, g.cfg, g.data)
	if err != nil {
		return nil, nil, err
	}
	q, err := embedded.Open(ctx, l.DB(), embedded.Options{})
	if err != nil {
		l.Close()
		return nil, nil, err
	}
	return l, q, nil
}

// withTenant runs local on a host that owns the data directory — its
// ledger, queue and tenant — or, when a stint serve owns it already, remote,
// which goes through that serve's control channel: two processes must not
// each keep a copy of the sandbox tenant.
func (g *globals) withTenant(ctx context.Context, local func(*host.Host) error, remote func() error) error {
	h, err := host.Open(ctx, host.Options{Config: g.cfg, Sandbox: g.onSandbox(), Data: g.data})
	var inUse *host.InUseError
	if errors.As(err, &inUse) {
		return remote()
	}
	if err != nil {
		return err
	}
	defer h.Close()
	return local(h)
}

// onSandbox reports whether an operator command runs against the sandbox:
// when asked, or when the data directory was served with --sandbox.
func (g *globals) onSandbox() bool {
	return g.sandbox || host.Chosen(g.data) == "sandbox"
}

func serveCmd(g *globals) *cobra.Command {
	var addr string
	var workers int
	var lease, tick time.Duration
	var only string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run every function in this process: webhook, queue, worker, tick, reconcile",
		Long: `Runs the webhook on --addr (POST signed events to /events), an embedded durable
queue and the ledger in <data>/stint.db, the worker, the tick (at each start or
end as it comes due, and at least every minute) and the reconcile every hour. Against the tenant the configuration names
(AZURE_TENANT_ID, STINT_GROUPS and a credential; see stint config), or, with
--sandbox, against a sandbox tenant kept in <data>/sandbox.json. SIGINT or
SIGTERM stops it gracefully; no accepted event is lost, even on SIGKILL.

With STINT_QUEUE_URL=servicebus://<namespace>.servicebus.windows.net/<queue>
the queue is Azure Service Bus; --only webhook|worker|sweep runs one role
(as separate Azure Container Apps). Every role answers GET /healthz,
GET /readyz and GET /metrics (Prometheus) on --addr.`,
		PreRunE: func(*cobra.Command, []string) error {
			return errors.Join(checkAddr(addr), checkWorkers(workers), checkLease(lease), checkTick(tick), host.CheckRole(only))
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext()
			defer stop()
			log := slog.New(slog.NewJSONHandler(g.errOut, nil))
			h, err := host.Open(ctx, host.Options{Config: g.cfg, Sandbox: g.sandbox, Data: g.data, Addr: addr, Workers: workers, Visibility: lease,
				TickEvery: tick, ReconcileEvery: time.Hour, Only: only, Log: log})
			if err != nil {
				return err
			}
			defer h.Close()
			if err := h.Listen(); err != nil {
				return err
			}
			against := "the sandbox tenant (--sandbox; state in " + filepath.Join(g.data, "sandbox.json") + ")"
			if h.Sandbox == nil {
				against = "tenant " + g.cfg.Tenant.ID
			}
			role := "every role"
			if only != "" {
				role = "the " + only + " only"
			}
			queue := "the embedded queue"
			if host.Shared(g.cfg.Store) {
				queue = "the embedded queue in the PostgreSQL ledger STINT_STORE names (shared by every replica)"
			}
			if g.cfg.QueueURL != "" {
				queue = g.cfg.QueueURL
			}
			fmt.Fprintf(g.out, "stint: serving against %s; %s, on %s; webhook %s; data in %s\n", against, role, queue, h.URL(), g.data)
			return h.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address the webhook (and /healthz, /readyz, /metrics) listens on")
	cmd.Flags().StringVar(&only, "only", "", "run one role: webhook, worker or sweep (default all); e.g. as separate Azure Container Apps on a Service Bus queue (STINT_QUEUE_URL)")
	cmd.Flags().DurationVar(&tick, "tick", time.Minute, fmt.Sprintf("the safety tick's period (%s to %s): serve also ticks at each due start or end, to the second; with several replicas on one ledger, one of them runs each tick", minTick, maxTick))
	cmd.Flags().IntVar(&workers, "workers", host.DefaultWorkers, fmt.Sprintf("messages handled at once (1 to %d)", maxWorkers))
	cmd.Flags().DurationVar(&lease, "lease", time.Minute, fmt.Sprintf("how long a message in hand is hidden from other workers (%s to %s); after a crash it comes back when its lease ends. Keep it longer than a message's handling, which can take tens of seconds when Graph throttles. On Service Bus the queue's lock hides the message, and the lease bounds its handling: a crashed worker's contractor is taken over within it", minLease, maxLease))
	return cmd
}
