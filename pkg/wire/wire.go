// Package wire builds, from the environment, what the functions that call
// Graph share: the ledger, the Graph adapter (with the allow-listed groups
// checked) and the event handler. Each step fails with one line naming the
// variable at fault. The webhook does not use it: it must not link Graph.
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

// Handler builds the event handler: configuration, Graph adapter (reading
// every allow-listed group and refusing role-assignable ones), ledger.
// maxRetries bounds Graph retries (0 for the adapter's default).
func Handler(ctx context.Context, log *slog.Logger, maxRetries int) (*worker.Handler, error) {
	dir, groups, err := Directory(log, maxRetries)
	if err != nil {
		return nil, err
	}
	store, err := config.Required("STINT_STORE", "sqlite:///path/to/stint.db or dynamodb://table")
	if err != nil {
		return nil, err
	}
	checkCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := engagement.CheckGroups(checkCtx, dir, groups); err != nil {
		return nil, err
	}
	l, err := ledger.Open(ctx, store)
	if err != nil {
		return nil, err
	}
	return Events(l, dir, groups, log)
}

// Events builds the event handler on a ledger and a directory, reading
// STINT_DEFAULT_ACCESS and the invitation settings.
func Events(l engagement.Ledger, dir engagement.Directory, groups map[string]string, log *slog.Logger) (*worker.Handler, error) {
	defaults, err := config.DefaultAccess(groups)
	if err != nil {
		return nil, err
	}
	send, redirect, err := config.Invitation()
	if err != nil {
		return nil, err
	}
	return &worker.Handler{
		Ledger: l, Directory: dir, Log: log, Now: time.Now,
		Settings: worker.Settings{
			Groups:         groups,
			Options:        engagement.Options{DefaultAccess: defaults, Allowed: config.Keys(groups)},
			SendInvitation: send, RedirectURL: redirect,
		},
	}, nil
}

// Sweeper builds the tick and reconcile on an event handler's ledger and
// directory, reading STINT_GHOST_GRACE (default 24h), STINT_GHOST_ACTION and
// STINT_UNREDEEMED_AFTER (default 30d).
func Sweeper(h *worker.Handler) (*sweep.Sweeper, error) {
	grace, err := config.Duration("STINT_GHOST_GRACE", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	unredeemed, err := config.Duration("STINT_UNREDEEMED_AFTER", 30*24*time.Hour)
	if err != nil {
		return nil, err
	}
	report, err := config.GhostAction()
	if err != nil {
		return nil, err
	}
	return &sweep.Sweeper{Ledger: h.Ledger, Directory: h.Directory, Worker: h, Groups: h.Settings.Groups,
		GhostGrace: grace, ReportGhosts: report, UnredeemedAfter: unredeemed, Log: h.Log, Now: time.Now}, nil
}

// Directory builds the Graph adapter from STINT_GRAPH_ENDPOINT and the
// AZURE_* variables, and reads the allow-list (STINT_GROUPS). It makes no
// request.
func Directory(log *slog.Logger, maxRetries int) (*entra.Client, map[string]string, error) {
	groups, err := config.Groups()
	if err != nil {
		return nil, nil, err
	}
	endpoint, err := entra.EndpointFromEnv()
	if err != nil {
		return nil, nil, err
	}
	cred, err := entra.CredentialFromEnv(nil)
	if err != nil {
		return nil, nil, err
	}
	dir, err := entra.New(entra.Config{Endpoint: endpoint, Credential: cred, Logger: log, MaxRetries: maxRetries})
	if err != nil {
		return nil, nil, err
	}
	return dir, groups, nil
}
