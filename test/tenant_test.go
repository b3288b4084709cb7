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
	return serveTenantFor(tb, sandbox.Options{TenantID: tenantID}, sandbox.App{ClientID: clientID, Secret: secret, Permissions: perms},
		"AZURE_CLIENT_SECRET="+secret)
}

// serveTenantFor starts a tenant with stint's app as given; credential is
// how stint proves it is the app.
func serveTenantFor(tb testing.TB, o sandbox.Options, app sandbox.App, credential ...string) *servedTenant {
	tb.Helper()
	tenant := sandbox.New(o)
	srv, err := tenant.StartTLS("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	ca := filepath.Join(tb.TempDir(), "ca.pem")
	if err := tenant.WriteCA(ca); err != nil {
		tb.Fatal(err)
	}
	tenant.AddApp(app)
	g := tenant.AddGroup(sandbox.Group{DisplayName: "Contractors", SecurityEnabled: true})
	env := []string{"SSL_CERT_FILE=" + ca, "AZURE_AUTHORITY_HOST=" + srv.URL, "AZURE_TENANT_ID=" + tenantID, "AZURE_CLIENT_ID=" + app.ClientID,
		"STINT_GRAPH_ENDPOINT=" + srv.URL, "STINT_GROUPS=contractor-access=" + g.ID, "STINT_WEBHOOK_SECRET=" + webhookSecret}
	return &servedTenant{Tenant: tenant, group: g.ID, env: append(env, credential...)}
}

// member reports whether the account with this address is in the group.
func (s *servedTenant) member(email string) bool {
	u, ok := s.UserByMail(email)
	return ok && slices.Contains(s.Members(s.group), u.ID)
}
