// Package entratest starts a sandbox tenant over TLS and the real Graph
// adapter against it, for tests of the packages built on the adapter.
package entratest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/sandbox"
)

// Identities of the test tenant and its app.
const (
	TenantID = "72f988bf-0000-4000-8000-00000000c0de"
	ClientID = "11111111-2222-3333-4444-555555555555"
	Secret   = "sandbox-secret-value"
)

// Permissions are the five the runtime app needs.
var Permissions = entra.Core()

// Options tune the client.
type Options struct {
	// MaxRetries for 429/503/504 (default the adapter's).
	MaxRetries int
	Logger     *slog.Logger
	// Permissions granted to the app (default the five core ones).
	Permissions []string
}

// Start serves a fresh tenant over TLS, registers the app with the five
// permissions (or o.Permissions), and returns the tenant and a client that
// has fetched its token already (so tests count Graph requests only).
func Start(tb testing.TB, o Options) (*sandbox.Tenant, *entra.Client) {
	tb.Helper()
	tenant := sandbox.New(sandbox.Options{TenantID: TenantID})
	srv, err := tenant.StartTLS("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	if o.Permissions == nil {
		o.Permissions = Permissions
	}
	tenant.AddApp(sandbox.App{ClientID: ClientID, Secret: Secret, Permissions: o.Permissions})
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	c, err := entra.NewLocal(entra.LocalTenant{Origin: srv.URL, TenantID: TenantID, ClientID: ClientID, Secret: Secret, Roots: tenant.CAPool()},
		entra.Config{Logger: o.Logger, MaxRetries: o.MaxRetries})
	if err != nil {
		tb.Fatal(err)
	}
	warm := tenant.AddGroup(sandbox.Group{DisplayName: "token warm-up", SecurityEnabled: true})
	if _, err := c.Group(context.Background(), warm.ID); err != nil {
		tb.Fatalf("entratest: first request: %v", err)
	}
	return tenant, c
}
