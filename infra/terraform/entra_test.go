package terraform

import (
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/stintdev/stint/pkg/entra"
)

// appRoleName names an app-role id by pkg/entra's table, for messages.
func appRoleName(id string) string {
	for _, p := range entra.Permissions {
		if p.AppRoleID == id {
			return p.Name + " " + id
		}
	}
	return "(not a permission of pkg/entra) " + id
}

func appRoles(ps ...entra.Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = appRoleName(p.AppRoleID)
	}
	return out
}

// requestedRoles are the Graph app roles an azuread_application requests:
// its resource_access blocks on Graph, written out or made by a dynamic
// block, each of type Role (an application permission).
func (m *module) requestedRoles(t *testing.T, app *hclsyntax.Block, vars map[string]cty.Value) []string {
	t.Helper()
	var graph []*hclsyntax.Block
	for _, rra := range blocks(app, "required_resource_access") {
		if v := m.eval(t, attr(t, rra, "resource_app_id"), vars); v.IsKnown() && v.AsString() == entra.GraphAppID {
			graph = append(graph, rra)
		} else {
			t.Errorf("%s: required_resource_access on %#v, want only Microsoft Graph (%s)", app.Labels[1], v, entra.GraphAppID)
		}
	}
	if len(graph) != 1 {
		t.Fatalf("%s: %d required_resource_access blocks on Graph, want 1", app.Labels[1], len(graph))
	}
	isRole := func(b *hclsyntax.Block) {
		if v := m.eval(t, attr(t, b, "type"), vars); !v.IsKnown() || v.AsString() != "Role" {
			t.Errorf("%s: resource_access type = %#v, want Role (an application permission)", app.Labels[1], v)
		}
	}
	var ids []string
	for _, ra := range blocks(graph[0], "resource_access") {
		isRole(ra)
		ids = append(ids, appRoleName(m.eval(t, attr(t, ra, "id"), vars).AsString()))
	}
	for _, d := range blocks(graph[0], "dynamic") {
		contents := blocks(d, "content")
		if d.Labels[0] != "resource_access" || len(contents) != 1 {
			t.Fatalf("%s: a dynamic %q block with %d content blocks, want dynamic \"resource_access\" with one", app.Labels[1], d.Labels[0], len(contents))
		}
		if got := ref(attr(t, contents[0], "id")); got != "resource_access.value" {
			t.Fatalf("%s: the dynamic resource_access's id is %q, want resource_access.value", app.Labels[1], got)
		}
		isRole(contents[0])
		for _, id := range m.stringList(t, attr(t, d, "for_each"), vars) {
			ids = append(ids, appRoleName(id))
		}
	}
	return ids
}

// grantedRoles are the app roles azuread_app_role_assignment.<name>
// grants (admin consent): to the app's service principal, on Graph's.
func (m *module) grantedRoles(t *testing.T, name string, vars map[string]cty.Value) []string {
	t.Helper()
	a := m.resource(t, "azuread_app_role_assignment."+name)
	if got := ref(attr(t, a, "app_role_id")); got != "each.value" {
		t.Fatalf("azuread_app_role_assignment.%s: app_role_id is %q, want each.value of its for_each", name, got)
	}
	if got, want := ref(attr(t, a, "principal_object_id")), "azuread_service_principal."+name; !strings.HasPrefix(got, want) {
		t.Errorf("azuread_app_role_assignment.%s: principal_object_id is %q, want %s's object_id", name, got, want)
	}
	if got := ref(attr(t, a, "resource_object_id")); got != "data.azuread_service_principal.graph.object_id" {
		t.Errorf("azuread_app_role_assignment.%s: resource_object_id is %q, want data.azuread_service_principal.graph.object_id", name, got)
	}
	var ids []string
	for _, id := range m.stringList(t, attr(t, a, "for_each"), vars) {
		ids = append(ids, appRoleName(id))
	}
	return ids
}

func TestEntraAppsRequestAndAreGrantedExactlyTheirPermissions(t *testing.T) {
	m := loadAll(t)[entraModule]
	graph := m.data["azuread_service_principal.graph"]
	if graph == nil {
		t.Fatal("no data.azuread_service_principal.graph (Microsoft Graph's service principal)")
	}
	if v := m.eval(t, attr(t, graph, "client_id"), nil); !v.IsKnown() || v.AsString() != entra.GraphAppID {
		t.Errorf("data.azuread_service_principal.graph: client_id = %#v, want %s", v, entra.GraphAppID)
	}

	var core []entra.Permission
	for _, p := range entra.Permissions {
		if p.Feature == "core" {
			core = append(core, p)
		}
	}
	operator := []entra.Permission{entra.WritePolicies, entra.ReadPolicies}
	vars := func(operatorApp, driftCheck bool, signIns ...bool) map[string]cty.Value {
		return map[string]cty.Value{"operator_app": cty.BoolVal(operatorApp), "policy_drift_check": cty.BoolVal(driftCheck),
			"signin_activity": cty.BoolVal(len(signIns) > 0 && signIns[0])}
	}
	for _, tc := range []struct {
		name, app string
		vars      map[string]cty.Value
		want      []entra.Permission
	}{
		{"runtime", "runtime", vars(true, false), core},
		// The reconcile's drift check reads policies, never writes them.
		{"runtime with policy_drift_check", "runtime", vars(true, true), append(slices.Clone(core), entra.ReadPolicies)},
		// Sign-in activity reads the audit logs, nothing else.
		{"runtime with signin_activity", "runtime", vars(true, false, true), append(slices.Clone(core), entra.ReadSignIns)},
		{"operator", "operator", vars(true, false), operator},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := appRoles(tc.want...)
			if d := diff(m.requestedRoles(t, m.resource(t, "azuread_application."+tc.app), tc.vars), want); d != "" {
				t.Errorf("azuread_application.%s requests other Graph app roles than pkg/entra's: %s", tc.app, d)
			}
			if d := diff(m.grantedRoles(t, tc.app, tc.vars), want); d != "" {
				t.Errorf("azuread_app_role_assignment.%s grants other Graph app roles than pkg/entra's: %s", tc.app, d)
			}
		})
	}

	t.Run("operator app only when asked", func(t *testing.T) {
		off := map[string]cty.Value{"operator_app": cty.False}
		for _, addr := range []string{"azuread_application.operator", "azuread_service_principal.operator"} {
			for v, want := range map[cty.Value]int64{cty.True: 1, cty.False: 0} {
				got := m.eval(t, attr(t, m.resource(t, addr), "count"), map[string]cty.Value{"operator_app": v})
				if !got.IsKnown() || !got.Equals(cty.NumberIntVal(want)).True() {
					t.Errorf("%s: count with operator_app = %#v is %#v, want %d", addr, v, got, want)
				}
			}
		}
		if got := m.grantedRoles(t, "operator", off); len(got) != 0 {
			t.Errorf("with operator_app false, azuread_app_role_assignment.operator still grants %q", got)
		}
	})
}

func TestEntraGroupsAreSecurityGroups(t *testing.T) {
	m := loadAll(t)[entraModule]
	for _, tc := range []struct {
		addr           string
		roleAssignable bool
	}{
		// Access groups: membership must never carry a directory role,
		// and stint changes it with GroupMember.ReadWrite.All.
		{"azuread_group.access", false},
		// Break-glass: only a Privileged Role Administrator may change the
		// membership of a role-assignable group, so the runtime app cannot
		// exclude anyone from the policies by adding them to it.
		{"azuread_group.break_glass", true},
	} {
		g := m.resource(t, tc.addr)
		for name, want := range map[string]bool{"security_enabled": true, "mail_enabled": false, "assignable_to_role": tc.roleAssignable} {
			if got := m.eval(t, attr(t, g, name), nil); got != cty.BoolVal(want) {
				t.Errorf("%s: %s = %#v, want %t", tc.addr, name, got, want)
			}
		}
	}
	for addr := range m.resources {
		if strings.HasPrefix(addr, "azuread_group.") && addr != "azuread_group.access" && addr != "azuread_group.break_glass" {
			t.Errorf("%s is not checked here: add it to the test's table", addr)
		}
	}
	if got := ref(attr(t, m.resource(t, "azuread_group.access"), "for_each")); got != "var.access_groups" {
		t.Errorf("azuread_group.access: for_each is %q, want var.access_groups (access key => display name)", got)
	}
}

func TestEntraFederatedCredentialsTrustTheRuntimeAppForTokenExchange(t *testing.T) {
	m := loadAll(t)[entraModule]
	var found []string
	for addr, r := range m.resources {
		if !strings.HasPrefix(addr, "azuread_application_federated_identity_credential.") {
			continue
		}
		found = append(found, addr)
		if got := m.stringList(t, attr(t, r, "audiences"), nil); !slices.Equal(got, []string{entra.ExchangeAudience}) {
			t.Errorf("%s: audiences = %q, want [%s]", addr, got, entra.ExchangeAudience)
		}
		if got := ref(attr(t, r, "application_id")); got != "azuread_application.runtime.id" {
			t.Errorf("%s: application_id is %q, want azuread_application.runtime.id (the runtime app)", addr, got)
		}
	}
	slices.Sort(found)
	want := []string{
		"azuread_application_federated_identity_credential.aws",
		"azuread_application_federated_identity_credential.managed_identity",
	}
	if !slices.Equal(found, want) {
		t.Errorf("federated credentials %q, want %q", found, want)
	}
}
