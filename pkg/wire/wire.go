// Package wire builds, from the configuration, what the functions that
// call Graph share: the ledger, the Graph adapter (with the allow-listed
// groups checked) and the event handler. The webhook does not use it: it
// must not link Graph.
package wire

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/ledger"
	"github.com/stintdev/stint/pkg/notify"
	"github.com/stintdev/stint/pkg/policy"
	"github.com/stintdev/stint/pkg/sweep"
	"github.com/stintdev/stint/pkg/worker"
)

// Handler builds the event handler: Graph adapter (reading every
// allow-listed group and refusing role-assignable ones), ledger.
// maxRetries bounds Graph retries (0 for the adapter's default).
func Handler(ctx context.Context, cfg config.Config, log *slog.Logger, maxRetries int) (*worker.Handler, error) {
	dir, err := Directory(cfg, log, maxRetries)
	if err != nil {
		return nil, err
	}
	checkCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := engagement.CheckGroups(checkCtx, dir, cfg.Groups); err != nil {
		return nil, err
	}
	l, err := ledger.Open(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	return Events(l, dir, cfg.Groups, cfg, log)
}

// Events builds the event handler on a ledger, a directory and an
// allow-list (the configuration's, or the sandbox's own).
func Events(l engagement.Ledger, dir engagement.Directory, groups map[string]string, cfg config.Config, log *slog.Logger) (*worker.Handler, error) {
	if err := config.CheckDefaultAccess(cfg.DefaultAccess, groups); err != nil {
		return nil, err
	}
	return &worker.Handler{
		Ledger: l, Directory: dir, Log: log, Now: time.Now,
		Settings: worker.Settings{
			Groups:         groups,
			Options:        engagement.Options{DefaultAccess: cfg.DefaultAccess, Allowed: config.Keys(groups)},
			SendInvitation: cfg.SendInvitation, RedirectURL: cfg.RedirectURL,
		},
	}, nil
}

// Sweeper builds the tick and the reconcile on an event handler's ledger
// and directory; the reconcile watches the Conditional Access policies in
// tenant for drift when the policy configuration p allows it.
func Sweeper(h *worker.Handler, cfg config.Config, tenant policy.Tenant, p config.Policies) *sweep.Sweeper {
	s := &sweep.Sweeper{Ledger: h.Ledger, Directory: h.Directory, Worker: h, Groups: h.Settings.Groups,
		GhostGrace: cfg.GhostGrace, ReportGhosts: cfg.GhostReport, UnredeemedAfter: cfg.UnredeemedAfter,
		RepairPolicies: p.RepairDrift, Log: h.Log, Now: time.Now}
	m, err := Policies(tenant, h.Ledger, h.Settings.Groups, p, "stint:reconcile", h.Log)
	if err != nil {
		s.PoliciesOff = "the policy drift check is off: " + strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	s.Policies = m
	s.Oversight = oversight(h, cfg)
	return s
}

// The Graph adapter reads sign-ins for the reconcile's oversight.
var _ sweep.SignInReader = (*entra.Client)(nil)

// oversight is what the reconcile watches besides memberships: sign-ins
// read through the Graph adapter (optional: AuditLog.Read.All), and the
// notifications STINT_NOTIFY_URL asks for.
func oversight(h *worker.Handler, cfg config.Config) sweep.Oversight {
	o := sweep.Oversight{DormantAfter: cfg.DormantAfter, DormantEnd: cfg.DormantEnd, VerifyWindow: cfg.VerifyWindow, RemindBefore: cfg.RemindBefore}
	if r, ok := h.Directory.(sweep.SignInReader); ok {
		o.SignIns = r
	}
	if cfg.Notify.URL != "" {
		o.Outbox = &notify.Outbox{Ledger: h.Ledger}
		o.Sender = &notify.Sender{Notify: cfg.Notify, Log: h.Log}
	}
	return o
}

// Policies builds the manager of stint's Conditional Access policies, or
// says (every problem at once) why the configuration does not allow one.
func Policies(tenant policy.Tenant, l policy.Ledger, groups map[string]string, p config.Policies, actor string, log *slog.Logger) (*policy.Manager, error) {
	desired, err := policy.Load(p, groups)
	if err != nil {
		return nil, err
	}
	return &policy.Manager{Tenant: tenant, Ledger: l, Desired: desired, Actor: actor, Log: log, Now: time.Now}, nil
}

// Directory builds the Graph adapter for the configured tenant. It makes
// no request.
func Directory(cfg config.Config, log *slog.Logger, maxRetries int) (*entra.Client, error) {
	return DirectoryWith(cfg, entra.Config{Logger: log, MaxRetries: maxRetries})
}

// DirectoryWith is Directory with the adapter's other settings (an
// Observe hook): its endpoint and credential come from cfg.
func DirectoryWith(cfg config.Config, o entra.Config) (*entra.Client, error) {
	cred, err := entra.Credential(cfg.Tenant, nil)
	if err != nil {
		return nil, err
	}
	o.Endpoint, o.Credential = cfg.GraphEndpoint, cred
	return entra.New(o)
}
