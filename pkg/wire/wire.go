// Package wire builds, from the configuration, what the functions that
// call Graph share: the ledger, the Graph adapter (with the allow-listed
// groups checked) and the event handler. The webhook does not use it: it
// must not link Graph.
package wire

import (
	"context"
	"log/slog"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/ledger"
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
// and directory.
func Sweeper(h *worker.Handler, cfg config.Config) *sweep.Sweeper {
	return &sweep.Sweeper{Ledger: h.Ledger, Directory: h.Directory, Worker: h, Groups: h.Settings.Groups,
		GhostGrace: cfg.GhostGrace, ReportGhosts: cfg.GhostReport, UnredeemedAfter: cfg.UnredeemedAfter, Log: h.Log, Now: time.Now}
}

// Directory builds the Graph adapter for the configured tenant. It makes
// no request.
func Directory(cfg config.Config, log *slog.Logger, maxRetries int) (*entra.Client, error) {
	cred, err := entra.Credential(cfg.Tenant, nil)
	if err != nil {
		return nil, err
	}
	return entra.New(entra.Config{Endpoint: cfg.GraphEndpoint, Credential: cred, Logger: log, MaxRetries: maxRetries})
}
