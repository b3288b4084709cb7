// Package host runs every stint function in one process on one machine:
// the webhook on an HTTP port, the embedded queue in the ledger's SQLite
// file, the worker, the tick every minute and the reconcile every hour.
//
// One process owns a data directory: Open takes an exclusive lock on it
// (<data>/lock, released by the kernel when the process ends), so a second
// serve, or a sweep run beside a serve, is refused rather than keeping a
// second copy of the sandbox tenant that one of them would save over.
// Operator commands reach a running serve through its control channel
// (see control.go).
//
// Against the tenant the configuration names, or, when asked for
// (Options.Sandbox), against the sandbox tenant kept under the data
// directory (sandbox.json, saved before each Graph change is answered) so
// that a restart, even after SIGKILL, finds Entra as it left it. The
// sandbox is chosen, never fallen into: without it, a configuration that
// names no tenant is an error naming what is missing. The choice is
// recorded in the data directory (<data>/tenant), and a later Open that
// would mix a sandbox's ledger with a real tenant, or two tenants, is
// refused.
package host

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/queue/embedded"
	"github.com/stintdev/stint/pkg/queue/servicebus"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/sweep"
	"github.com/stintdev/stint/pkg/webhook"
	"github.com/stintdev/stint/pkg/wire"
	"github.com/stintdev/stint/pkg/worker"
)

// Options configure the host.
type Options struct {
	// Config is the stint command's configuration (pkg/config).
	Config config.Config
	// Sandbox runs against the sandbox tenant rather than the configured
	// one.
	Sandbox bool
	// Data is the data directory (ledger, queue, sandbox, webhook secret).
	Data string
	// Addr is where the webhook listens (default 127.0.0.1:8080).
	Addr string
	// Workers handle messages concurrently (default DefaultWorkers).
	Workers int
	// TickEvery and ReconcileEvery schedule the sweeps (1 min, 1 h); zero
	// or negative turns one off.
	TickEvery, ReconcileEvery time.Duration
	// Visibility is the embedded queue's lease (default 60 s). It also
	// bounds one message's handling on Service Bus, whose own lock
	// hides the message in hand (see handling).
	Visibility time.Duration
	// Only runs one role (RoleWebhook, RoleWorker, RoleSweep); all of
	// them when empty. Every role serves /healthz, /readyz and /metrics
	// on Addr.
	Only string
	// Server bounds the webhook's HTTP server (timeouts, header size,
	// connections, shutdown grace); zero fields take webhook's defaults.
	Server webhook.ServerOptions
	Log    *slog.Logger
}

// Host is a running stint.
type Host struct {
	Ledger  Store
	Queue   *embedded.Queue
	Events  *worker.Handler
	Sweeper *sweep.Sweeper
	Webhook *webhook.Handler
	// Sandbox is the sandbox tenant, nil against a real one.
	Sandbox *sandbox.Tenant
	// directory is the Graph adapter, for stint check.
	directory *entra.Client
	// Groups is the allow-list in use.
	Groups map[string]string
	// Secret is the webhook secret (whsec_…), for senders on this machine.
	Secret string
	// sb is the Service Bus queue, when STINT_QUEUE_URL names one (the
	// embedded queue then only keeps its tables).
	sb *ServiceBus
	// obs are the metrics served at /metrics (metrics.go).
	obs *observers

	o        Options
	listener net.Listener
	closers  []func() error
	handled  chan string
	// changed wakes the tick's scheduler when a handled message may have
	// moved the next due start or end (scheduleTick).
	changed chan struct{}
}

// DefaultWorkers is how many messages stint serve handles at once unless
// told (--workers). Handling a message mostly waits on Graph, and the
// group additions of the messages in hand share writes (members@odata.bind
// PATCHes of up to 20): at a go-live burst, 16 workers spend 0.66 Graph
// writes per contractor where 4 spent 1.10, against a budget of 20 writes
// a second (README, "Against Graph's ceiling"). An idle worker costs
// nothing: it waits for the queue to change. Each may hold a database
// connection at once.
const DefaultWorkers = 16

// Open builds the host. It does not start serving.
func Open(ctx context.Context, o Options) (*Host, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.Visibility == 0 {
		o.Visibility = time.Minute
	}
	if o.Workers < 0 || o.Visibility < 0 {
		return nil, fault.Errorf(fault.Invalid, "stint: %d workers with a lease of %s: want at least one worker and a positive lease", o.Workers, o.Visibility)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if err := CheckRole(o.Only); err != nil {
		return nil, err
	}
	if !o.Sandbox {
		if err := TenantConfigured(o.Config); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(o.Data, 0o700); err != nil {
		return nil, fmt.Errorf("stint: data directory %s: %w", o.Data, err)
	}
	release, err := Lock(o.Data)
	if err != nil {
		return nil, err
	}
	h := &Host{o: o, closers: []func() error{release}, changed: make(chan struct{}, 1)}
	if fi, err := os.Stat(o.Data); err == nil && fi.Mode().Perm()&0o077 != 0 {
		o.Log.Warn("stint: the data directory can be read by other users; its files are kept private (0600), but make it 0700: chmod 700 "+o.Data,
			"data", o.Data, "mode", fi.Mode().Perm().String())
	}
	if h.Ledger, err = OpenStore(ctx, o.Config, o.Data); err != nil {
		h.Close()
		return nil, err
	}
	h.closers = append(h.closers, h.Ledger.Close)
	if err := h.markTenant(ctx); err != nil {
		h.Close()
		return nil, err
	}
	if h.Queue, err = embedded.Open(ctx, h.Ledger.DB(), embedded.Options{Visibility: o.Visibility}); err != nil {
		h.Close()
		return nil, err
	}
	h.closers = append(h.closers, h.Queue.Close)
	if h.sb, err = h.openServiceBus(); err != nil {
		h.Close()
		return nil, err
	}
	h.newObservers()
	var dir *entra.Client
	if o.Sandbox {
		dir, h.Groups, err = h.startSandbox(ctx)
	} else {
		dir, err = wire.DirectoryWith(o.Config, entra.Config{Logger: o.Log, MaxRetries: 10, Observe: h.obs.graph})
		h.Groups = o.Config.Groups
	}
	h.directory = dir
	if err != nil {
		h.Close()
		return nil, err
	}
	// The webhook alone touches no group: it needs their keys, not Graph.
	if o.Only != RoleWebhook {
		if err := engagement.CheckGroups(ctx, dir, h.Groups); err != nil {
			h.Close()
			return nil, err
		}
	}
	if err := h.settings(dir); err != nil {
		h.Close()
		return nil, err
	}
	h.observe()
	return h, nil
}

// settings builds the handlers from the configuration.
func (h *Host) settings(dir *entra.Client) error {
	var err error
	if h.Events, err = wire.Events(h.Ledger, dir, h.Groups, h.o.Config, h.o.Log); err != nil {
		return err
	}
	h.Sweeper = wire.Sweeper(h.Events, h.o.Config, dir, h.o.Config.Policies)
	if h.Secret, err = WebhookSecret(h.o.Data, h.o.Config, true); err != nil {
		return err
	}
	verifier, err := webhook.ParseSecrets(h.Secret)
	if err != nil {
		return err
	}
	var queue engagement.Queue = h.Queue
	if h.sb != nil {
		queue = h.sb.Queue
	}
	h.Webhook = &webhook.Handler{Verifier: verifier, Queue: queue, AccessKeys: config.Keys(h.Groups), Log: h.o.Log}
	return nil
}

// WebhookSecret is the webhook secret for a data directory: the
// configured STINT_WEBHOOK_SECRET, else the one kept in <data>/webhook-secret
// (mode 0600) — made there first when create is set (stint serve), an
// error naming both otherwise (stint send).
func WebhookSecret(data string, cfg config.Config, create bool) (string, error) {
	if cfg.WebhookSecret != "" {
		return cfg.WebhookSecret, nil
	}
	path := filepath.Join(data, "webhook-secret")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !create {
		return "", fault.Errorf(fault.Invalid, "no webhook secret: set STINT_WEBHOOK_SECRET, or run stint serve with --data %s first (it keeps one in %s)", data, path)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	if err := writePrivate(path, []byte(secret+"\n")); err != nil {
		return "", fmt.Errorf("stint: save the webhook secret: %w", err)
	}
	return secret, nil
}

// Listen binds the webhook's address; URL is then known.
func (h *Host) Listen() error {
	l, err := net.Listen("tcp", h.o.Addr)
	if err != nil {
		return fmt.Errorf("stint: listen on %s: %w (choose another with --addr)", h.o.Addr, err)
	}
	h.listener = l
	return nil
}

// URL is where the webhook receives events.
func (h *Host) URL() string { return "http://" + h.listener.Addr().String() + "/events" }

// Handled, when set before Run, receives the id of every message done with.
func (h *Host) Handled() <-chan string {
	if h.handled == nil {
		h.handled = make(chan string, 4096)
	}
	return h.handled
}

// Run serves until ctx ends, then shuts down gracefully: the webhook stops
// taking events within the server's shutdown grace (2 s), workers finish
// the messages they hold, and every accepted event stays in the queue for
// the next start.
func (h *Host) Run(ctx context.Context) error {
	if h.listener == nil {
		if err := h.Listen(); err != nil {
			return err
		}
	}
	stopControl, err := h.serveControl()
	if err != nil {
		return err
	}
	defer stopControl()
	mux := http.NewServeMux()
	if h.plays(RoleWebhook) {
		mux.Handle("/events", h.Webhook)
	}
	h.health(mux)
	o := h.o.Server
	if o.Log == nil {
		o.Log = h.o.Log
	}
	srv := webhook.NewServer(mux, o)
	errs := make(chan error, 1)
	go func() {
		if err := srv.Serve(webhook.LimitListener(h.listener, o)); !errors.Is(err, http.ErrServerClosed) {
			errs <- err
		}
	}()
	var wg sync.WaitGroup
	if h.plays(RoleWorker) {
		h.startWorkers(ctx, &wg)
	}
	if h.plays(RoleSweep) {
		// The tick and the reconcile run on their own schedules: a long
		// reconcile must not hold up a minute's expiries.
		wg.Add(2)
		go func() { defer wg.Done(); h.scheduleTick(ctx, h.o.TickEvery) }()
		go func() { defer wg.Done(); h.schedule(ctx, "reconcile", h.o.ReconcileEvery) }()
	}
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	// Requests in flight may finish within the grace; slow clients are then
	// cut (they got no 202, and send again).
	if serr := webhook.Shutdown(srv, o); serr != nil {
		h.o.Log.Error("stint: webhook shutdown", "error", serr.Error())
	}
	wg.Wait()
	return err
}

// startWorkers runs the queue's consumer: Service Bus sessions, or the
// embedded queue's workers.
func (h *Host) startWorkers(ctx context.Context, wg *sync.WaitGroup) {
	if h.sb != nil {
		c := &servicebus.Consumer{Client: h.sb.client, Queue: h.sb.name, Handle: h.process, Sessions: h.o.Workers, Handling: handling(h.o.Visibility), Log: h.o.Log}
		wg.Add(1)
		go func() { defer wg.Done(); c.Run(ctx) }()
		return
	}
	consumer := &embedded.Consumer{Queue: h.Queue, Handle: h.process, Workers: h.o.Workers, Handling: handling(h.o.Visibility), Log: h.o.Log, DeadLettered: h.obs.deadLettered}
	if h.handled != nil {
		consumer.Settled = h.handled
	}
	wg.Add(1)
	go func() { defer wg.Done(); consumer.Run(ctx) }()
}

// process handles one message, then tells the tick's scheduler that the
// next due start or end may have moved.
func (h *Host) process(ctx context.Context, m engagement.Message) engagement.Verdict {
	v := h.Events.Process(ctx, m)
	select {
	case h.changed <- struct{}{}:
	default: // a wake-up is pending already
	}
	return v
}

// handling is how long a worker may spend on a message: 50 s, and always
// well inside its lease, so that no second worker takes a message while it
// is still in hand.
func handling(lease time.Duration) time.Duration {
	return min(50*time.Second, lease-max(time.Second, lease/10))
}

// schedule runs one sweep mode every period until ctx ends; a period of
// zero or less turns it off.
func (h *Host) schedule(ctx context.Context, mode string, every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.sweep(ctx, mode, every)
		}
	}
}

// sweep runs a scheduled sweep. Replicas on one ledger each schedule the
// sweeps, and a lease keeps two runs apart; a reconcile, which reads every
// group from Graph, also runs once a period between them: a replica skips
// it when another finished one less than 90% of a period ago (the mark
// sweep/reconcile/done). Ticks are cheap, and more of them end access
// sooner.
func (h *Host) sweep(ctx context.Context, mode string, every time.Duration) sweep.Summary {
	done := "sweep/" + mode + "/done"
	if mode == "reconcile" {
		marks, err := h.Ledger.Marks(ctx, done)
		if last, perr := time.Parse(time.RFC3339Nano, marks[done]); err == nil && perr == nil && time.Since(last) < every-every/10 {
			return sweep.Summary{Mode: mode, Skipped: true}
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	sum, err := h.runSweep(sctx, sweep.Input{Mode: mode})
	if err != nil {
		h.o.Log.Error("stint: sweep failed", "mode", mode, "error", err.Error())
		return sum
	}
	if mode == "reconcile" && !sum.Skipped {
		if err := h.Ledger.SetMark(ctx, done, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			h.o.Log.Warn("stint: the reconcile's time not recorded; another replica may run one sooner", "error", err.Error())
		}
	}
	return sum
}

// Close releases what Open took.
func (h *Host) Close() {
	for i := len(h.closers) - 1; i >= 0; i-- {
		h.closers[i]()
	}
	h.closers = nil
}

// Account is a user's account as Entra holds it: whether sign-in is
// enabled, and which allow-listed groups it is in (by access key).
type Account struct {
	Enabled bool     `json:"enabled"`
	Groups  []string `json:"groups"`
}

// Accounts reads the members of every allow-listed group from Entra — a
// request per 999 members — and returns their accounts by user id: what an
// administrator may have changed behind stint's back (a blocked sign-in, a
// membership removed by hand). Accounts in no managed group are absent.
func (h *Host) Accounts(ctx context.Context) (map[string]Account, error) {
	out := map[string]Account{}
	for _, key := range config.Keys(h.Groups) {
		for u, err := range h.Events.Directory.Members(ctx, h.Groups[key]) {
			if err != nil {
				return nil, err
			}
			a := out[u.ID]
			a.Enabled = u.Enabled
			a.Groups = append(a.Groups, key)
			out[u.ID] = a
		}
	}
	return out, nil
}

// TenantConfigured says what is missing for a real tenant.
func TenantConfigured(cfg config.Config) error {
	var missing []string
	if !cfg.Tenant.Configured() {
		missing = append(missing, "AZURE_TENANT_ID")
	}
	if cfg.Groups == nil {
		missing = append(missing, "STINT_GROUPS")
	}
	if len(missing) == 0 {
		return nil
	}
	return fault.Errorf(fault.Invalid, "no tenant is configured: %s not set. Set AZURE_TENANT_ID and STINT_GROUPS (with AZURE_CLIENT_ID and a secret, certificate or federated token, or a managed identity) to run against your tenant, or pass --sandbox to run against a sandbox tenant kept in the data directory",
		strings.Join(missing, " and "))
}

// tenantFile records which tenant a data directory's ledger belongs to.
const tenantFile = "tenant"

// Chosen reads which tenant a data directory was used with: "sandbox", a
// tenant id, or "" when it was not used yet.
func Chosen(data string) string {
	b, err := os.ReadFile(filepath.Join(data, tenantFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// markTenant records the tenant this Open runs against, or refuses one
// that differs from the data directory's: a ledger speaks of one tenant's
// accounts.
func (h *Host) markTenant(ctx context.Context) error {
	want := "sandbox"
	if !h.o.Sandbox {
		want = h.o.Config.Tenant.ID
	}
	if Shared(h.o.Config.Store) {
		return h.markSharedTenant(ctx, want)
	}
	switch was := Chosen(h.o.Data); {
	case was == want:
		return nil
	case was == "sandbox":
		return fault.Errorf(fault.Invalid, "the data directory %s holds the sandbox tenant's ledger: pass --sandbox, or use another --data for tenant %s", h.o.Data, want)
	case was != "" && want == "sandbox":
		return fault.Errorf(fault.Invalid, "the data directory %s holds tenant %s's ledger: run without --sandbox, or use another --data for the sandbox", h.o.Data, was)
	case was != "":
		return fault.Errorf(fault.Invalid, "the data directory %s holds tenant %s's ledger, and AZURE_TENANT_ID names %s: use another --data for that tenant", h.o.Data, was, want)
	}
	return writePrivate(filepath.Join(h.o.Data, tenantFile), []byte(want+"\n"))
}
