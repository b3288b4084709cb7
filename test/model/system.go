package model

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/queue/embedded"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/sweep"
	"github.com/stintdev/stint/pkg/worker"
)

// Queue is what the simulation needs from a queue: the embedded queue's
// operations, so that another backend can bring its own.
type Queue interface {
	engagement.Queue
	engagement.DeadLetters
	Receive(ctx context.Context, max int) ([]embedded.Message, error)
	Ack(ctx context.Context, id string) error
	Retry(ctx context.Context, m embedded.Message, reason error) error
	DeadLetters(ctx context.Context) ([]embedded.DeadLetter, error)
	Replay(ctx context.Context, seq int64) error
	Len(ctx context.Context) (int, error)
}

// Backend opens a fresh ledger and queue for one run, on the simulation's
// clock. Only SQLite exists now; DynamoDB (with the worker, tick and
// reconcile running concurrently) is to come.
type Backend interface {
	Name() string
	Open(ctx context.Context, dir string, now func() time.Time) (engagement.Ledger, Queue, error)
}

// SQLite is the embedded default: the SQLite ledger with the embedded
// queue in the same file.
type SQLite struct{}

// Name names the backend in reports.
func (SQLite) Name() string { return "sqlite" }

// Open creates the ledger and queue under dir.
func (SQLite) Open(ctx context.Context, dir string, now func() time.Time) (engagement.Ledger, Queue, error) {
	l, err := sqlite.Open(ctx, filepath.Join(dir, "stint.db"))
	if err != nil {
		return nil, nil, err
	}
	q, err := embedded.Open(ctx, l.DB(), embedded.Options{Visibility: time.Minute, MaxAttempts: 10, Backoff: time.Second, Now: now})
	if err != nil {
		l.Close()
		return nil, nil, err
	}
	return l, q, nil
}

// The sandbox app's identity.
const (
	tenantID = "0de10000-0000-4000-8000-00000000000a"
	clientID = "0de10000-0000-4000-8000-0000000000a1"
	secret   = "model-secret-value"
)

// Ghost grace during the random phase; the final reconcile uses zero.
const runGrace = 2 * time.Hour

// unredeemedOff keeps the reconcile from flagging unredeemed invitations:
// the sandbox stamps accounts with the real clock, the simulation runs on
// a fake one, and a flag changes nothing anyway.
const unredeemedOff = 100 * 365 * 24 * time.Hour

// system is stint wired as the one-machine host wires it, on a fake clock,
// against a sandbox tenant over HTTPS.
type system struct {
	tenant  *sandbox.Tenant
	ledger  engagement.Ledger // crash-wrapped
	queue   Queue
	dead    engagement.DeadLetters // crash-wrapped
	handler *worker.Handler
	sweep   *sweep.Sweeper // grace runGrace
	final   *sweep.Sweeper // grace 0
	closers []func() error
}

func (s *system) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// start builds the system: the tenant (with its groups and app), the
// Graph adapter through the run's wire, the ledger and queue, the worker
// and the two sweepers. It reads every group as the host does at start.
func (r *run) start(ctx context.Context) error {
	s := &r.sys
	s.tenant = sandbox.New(sandbox.Options{TenantID: tenantID})
	for _, key := range Keys {
		s.tenant.AddGroup(sandbox.Group{ID: Groups[key], DisplayName: key, SecurityEnabled: true})
		r.names[Groups[key]] = key
	}
	s.tenant.AddApp(sandbox.App{ClientID: clientID, Secret: secret, Permissions: entra.Core()})
	srv, err := s.tenant.StartTLS("127.0.0.1:0")
	if err != nil {
		return err
	}
	s.closers = append(s.closers, srv.Close)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.tenant.CAPool()}}
	s.closers = append(s.closers, func() error { transport.CloseIdleConnections(); return nil })
	cred, err := azidentity.NewClientSecretCredential(tenantID, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL}, Transport: &http.Client{Transport: transport}},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		return err
	}
	r.wire = &wire{run: r, next: transport}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if r.opts.Log != nil {
		log = slog.New(slog.NewJSONHandler(r.opts.Log, nil))
	}
	// One retry at most: a 429 or 503 asking to wait surfaces as a
	// transient failure at once (its wait passes the deadline each call
	// gets), and the queue redelivers; one asking for no wait is retried
	// by the SDK on the spot.
	dir, err := entra.New(entra.Config{Endpoint: srv.URL, Credential: cred, Transport: r.wire, MaxRetries: 1, Logger: log})
	if err != nil {
		return err
	}
	backend := r.opts.Backend
	if backend == nil {
		backend = SQLite{}
	}
	l, q, err := backend.Open(ctx, r.opts.Dir, r.clock.Now)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, l.Close)
	s.ledger = &crashLedger{Ledger: l, c: &r.crash, who: r.keyOwner}
	s.queue = q
	s.dead = crashDeadLetters{q: q, c: &r.crash, noted: func(m engagement.Message, reason error) {
		r.stats.DeadLettered++
		r.stats.DeadLetterReasons[anonymous(reason.Error())]++
		r.linef(r.byEmail[m.Group], "  dead-lettered: %v", reason)
	}}
	s.handler = &worker.Handler{
		Ledger: s.ledger, Directory: dir, Log: log, Now: r.clock.Now,
		// One actor at a time: a claim still held was left by a unit of
		// work that crashed, and waits for the fake clock, not real time.
		ClaimWait: -1,
		Settings: worker.Settings{
			Groups:      maps.Clone(Groups),
			Options:     engagement.Options{DefaultAccess: DefaultAccess, Allowed: slices.Clone(Keys)},
			RedirectURL: "https://myapps.microsoft.com",
		},
	}
	sweeper := func(grace time.Duration) *sweep.Sweeper {
		return &sweep.Sweeper{Ledger: s.ledger, Directory: dir, Worker: s.handler, Groups: maps.Clone(Groups),
			GhostGrace: grace, UnredeemedAfter: unredeemedOff, Margin: time.Millisecond, ProgressEvery: time.Hour,
			Parallel: 1, Log: log, Now: r.clock.Now} // Parallel 1: one actor at a time, inside the tick too
	}
	s.sweep, s.final = sweeper(runGrace), sweeper(0)
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := engagement.CheckGroups(cctx, dir, Groups); err != nil {
		return fmt.Errorf("model: first Graph requests: %w", err)
	}
	return nil
}

// guid matches object and request ids.
var guid = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// anonymous leaves object ids out of a message, so that messages that
// differ only by them count together.
func anonymous(msg string) string {
	msg = guid.ReplaceAllString(msg, "…")
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	return msg
}
