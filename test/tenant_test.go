package test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stintdev/stint/pkg/sandbox"
)

// servedTenant is a tenant the test serves over HTTPS and stint reaches as
// it would a real one (AZURE_*, SSL_CERT_FILE, STINT_GRAPH_ENDPOINT), so
// that several stint processes share it and the test can break Graph
// under them.
type servedTenant struct {
	*sandbox.Tenant
	// group is the contractor-access group's id.
	group string
	// env configures stint for it, the webhook secret included.
	env []string
}

// serveTenant starts a tenant with perms granted to stint's app, until the
// test ends.
func serveTenant(tb testing.TB, perms []string) *servedTenant {
	tb.Helper()
	tenant := sandbox.New(sandbox.Options{TenantID: tenantID})
	srv, err := tenant.StartTLS("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	ca := filepath.Join(tb.TempDir(), "ca.pem")
	if err := tenant.WriteCA(ca); err != nil {
		tb.Fatal(err)
	}
	tenant.AddApp(sandbox.App{ClientID: clientID, Secret: secret, Permissions: perms})
	g := tenant.AddGroup(sandbox.Group{DisplayName: "Contractors", SecurityEnabled: true})
	return &servedTenant{Tenant: tenant, group: g.ID, env: []string{
		"SSL_CERT_FILE=" + ca, "AZURE_AUTHORITY_HOST=" + srv.URL, "AZURE_TENANT_ID=" + tenantID, "AZURE_CLIENT_ID=" + clientID,
		"AZURE_CLIENT_SECRET=" + secret, "STINT_GRAPH_ENDPOINT=" + srv.URL, "STINT_GROUPS=contractor-access=" + g.ID,
		"STINT_WEBHOOK_SECRET=" + webhookSecret,
	}}
}

// member reports whether the account with this address is in the group.
func (s *servedTenant) member(email string) bool {
	u, ok := s.UserByMail(email)
	return ok && slices.Contains(s.Members(s.group), u.ID)
}
