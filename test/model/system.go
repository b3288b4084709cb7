package model

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/sweep"
	"github.com/stintdev/stint/pkg/worker"
)

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
	s.ledger = &crashLedger{Ledger: l, who: r.keyOwner, now: r.clock.Now, conflict: func() {
		r.mu.Lock()
		r.stats.Conflicts++
		r.mu.Unlock()
	}}
	s.queue = q
	s.dead = crashDeadLetters{q: q, noted: func(m engagement.Message, reason error) {
		r.mu.Lock()
		r.stats.DeadLettered++
		r.stats.DeadLetterReasons[anonymous(reason.Error())]++
		r.mu.Unlock()
		r.linef(r.byEmail[m.Group], "  dead-lettered: %v", reason)
	}}
	// One actor at a time, a claim still held was left by a unit of work
	// that crashed, and waits for the fake clock, not real time: the worker
	// does not wait for it. Actors at once, a held claim is usually a live
	// settle's, which ends in moments: the worker waits for it (real time).
	claimWait, parallel := time.Duration(-1), 1
	if r.opts.Concurrent {
		claimWait, parallel = concurrentClaimWait, sweep.DefaultParallel
	}
	s.handler = &worker.Handler{
		Ledger: s.ledger, Directory: dir, Log: log, Now: r.clock.Now,
		ClaimWait: claimWait,
		Settings: worker.Settings{
			Groups:      maps.Clone(Groups),
			Options:     engagement.Options{DefaultAccess: DefaultAccess, Allowed: slices.Clone(Keys)},
			RedirectURL: "https://myapps.microsoft.com",
		},
	}
	sweeper := func(grace time.Duration) *sweep.Sweeper {
		return &sweep.Sweeper{Ledger: s.ledger, Directory: dir, Worker: s.handler, Groups: maps.Clone(Groups),
			GhostGrace: grace, UnredeemedAfter: unredeemedOff, Margin: time.Millisecond, ProgressEvery: time.Hour,
			Parallel: parallel, Log: log, Now: r.clock.Now} // one actor at a time means inside the tick too
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
