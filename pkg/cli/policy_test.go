package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/policy"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/sweep"
)

// sandboxPolicies sets what the policies need on the sandbox: its
// break-glass account and an allowed app.
func sandboxPolicies(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	t.Setenv("STINT_BREAK_GLASS", "user:"+host.SandboxBreakGlass)
	t.Setenv("STINT_ALLOWED_APPS", host.SandboxAllowedApp)
	t.Setenv("STINT_POLICY_DRIFT", "")
}

// openTenant reads the sandbox tenant a data directory holds; saveTenant
// writes it back, as an administrator's hand in the portal.
func openTenant(t *testing.T, data string) *sandbox.Tenant {
	t.Helper()
	ten := sandbox.New(sandbox.Options{})
	if err := ten.LoadFile(filepath.Join(data, "sandbox.json")); err != nil {
		t.Fatal(err)
	}
	return ten
}

func saveTenant(t *testing.T, data string, ten *sandbox.Tenant) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(data, "sandbox.json"), os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := ten.Save(f); err != nil {
		t.Fatal(err)
	}
}

func policyNamed(t *testing.T, ten *sandbox.Tenant, name string) sandbox.Policy {
	t.Helper()
	for _, p := range ten.Policies() {
		if p.DisplayName == name {
			return p
		}
	}
	t.Fatalf("no policy %q in the tenant", name)
	return sandbox.Policy{}
}

func planOf(t *testing.T, out string) policy.Plan {
	t.Helper()
	var p policy.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, out)
	}
	return p
}

const (
	mfaName    = "stint: contractors require multifactor authentication"
	appsName   = "stint: contractors reach the allowed apps only"
	freqName   = "stint: contractors sign in again regularly"
	legacyName = "stint: contractors cannot use legacy authentication"
)

// The whole life of the policies on the sandbox: plan, apply report-only,
// in sync, a second apply that writes nothing, enforcement, a hand edit of
// each kind named by plan and by the reconcile, the repair; an admin's own
// policy never touched.
func TestPolicyLifecycleOnTheSandbox(t *testing.T) {
	sandboxPolicies(t)
	data := t.TempDir()
	code, out, errOut := run(t, "policy", "plan", "--sandbox", "--data", data, "--json")
	if code != 2 {
		t.Fatalf("plan on an empty tenant exited %d, want 2: %s%s", code, out, errOut)
	}
	p := planOf(t, out)
	if len(p.Changes) != 4 || slices.ContainsFunc(p.Changes, func(c policy.Change) bool { return c.Action != policy.Create }) {
		t.Fatalf("plan on an empty tenant = %+v, want the four baseline policies to create", p.Changes)
	}

	ten := openTenant(t, data)
	admin, err := ten.AddPolicy(sandbox.Policy{DisplayName: "Admins: everyone uses MFA", State: sandbox.PolicyEnabled,
		Conditions: &sandbox.PolicyConditions{ClientAppTypes: []string{"all"},
			Applications: &sandbox.PolicyApplications{IncludeApplications: []string{"All"}},
			Users:        &sandbox.PolicyUsers{IncludeUsers: []string{"All"}, ExcludeUsers: []string{host.SandboxBreakGlass}}},
		GrantControls: &sandbox.GrantControls{Operator: "OR", BuiltInControls: []string{"mfa"}}})
	if err != nil {
		t.Fatal(err)
	}
	saveTenant(t, data, ten)

	if code, out, errOut := run(t, "policy", "apply", "--data", data); code != 0 {
		t.Fatalf("apply = %d %s%s", code, out, errOut)
	}
	ten = openTenant(t, data)
	groups := []string{host.SandboxGroups["contractor-access"], host.SandboxGroups["github-org"]}
	for _, name := range []string{mfaName, appsName, freqName, legacyName} {
		pol := policyNamed(t, ten, name)
		u := pol.Conditions.Users
		if pol.State != sandbox.PolicyReportOnly || !slices.Equal(sortedLower(u.IncludeGroups), groups) || !slices.Contains(u.ExcludeUsers, host.SandboxBreakGlass) {
			t.Errorf("%s: state %s, includeGroups %v, excludeUsers %v; want report-only, every managed group, the break-glass account excluded", name, pol.State, u.IncludeGroups, u.ExcludeUsers)
		}
	}
	if code, out, _ := run(t, "policy", "plan", "--data", data); code != 0 || strings.Count(out, "in sync") != 4 {
		t.Errorf("plan after apply = %d\n%s; want 0, four in sync", code, out)
	}
	// Exported, the tenant's policies read back as the same policies.
	exported := filepath.Join(t.TempDir(), "policies")
	if code, out, errOut := run(t, "policy", "export", "--data", data, "--dir", exported); code != 0 || !strings.Contains(out, "5 policies written") {
		t.Fatalf("export = %d\n%s%s; want stint's four and the admin's", code, out, errOut)
	}
	os.Remove(filepath.Join(exported, "admins-everyone-uses-mfa.json")) // it targets every user: not for stint
	t.Setenv("STINT_POLICIES", exported)
	if code, out, errOut := run(t, "policy", "plan", "--data", data); code != 0 || strings.Count(out, "in sync") != 4 {
		t.Errorf("plan from the exported files = %d\n%s%s; want the four in sync", code, out, errOut)
	}
	t.Setenv("STINT_POLICIES", "")
	if code, _, errOut := run(t, "policy", "apply", "--data", data); code != 0 {
		t.Fatalf("second apply = %d %s", code, errOut)
	}
	ten = openTenant(t, data)
	for _, pol := range ten.Policies() {
		if pol.ModifiedDateTime != nil {
			t.Errorf("the second apply changed %q", pol.DisplayName)
		}
	}

	if code, _, errOut := run(t, "policy", "apply", "--enforce", "--data", data); code != 0 {
		t.Fatalf("apply --enforce = %d %s", code, errOut)
	}
	ten = openTenant(t, data)
	for _, name := range []string{mfaName, appsName, freqName, legacyName} {
		if pol := policyNamed(t, ten, name); pol.State != sandbox.PolicyEnabled {
			t.Errorf("%s after --enforce: %s, want enabled", name, pol.State)
		}
	}
	if code, out, _ := run(t, "policy", "plan", "--data", data); code != 0 {
		t.Errorf("plan after --enforce = %d\n%s; enforcement must be remembered", code, out)
	}

	// An administrator's hand, one edit of each kind.
	ten.SetPolicyState(policyNamed(t, ten, mfaName).ID, sandbox.PolicyDisabled)
	apps := policyNamed(t, ten, appsName)
	ten.SetPolicyState(apps.ID, sandbox.PolicyReportOnly)
	if _, err := ten.EditPolicy(apps.ID, func(p *sandbox.Policy) { p.Conditions.Users.ExcludeUsers = nil }); err != nil {
		t.Fatal(err)
	}
	freq := policyNamed(t, ten, freqName)
	if err := ten.RemoveIncludedGroup(freq.ID, host.SandboxGroups["github-org"]); err != nil {
		t.Fatal(err)
	}
	if _, err := ten.EditPolicy(freq.ID, func(p *sandbox.Policy) { p.SessionControls.PersistentBrowser = nil }); err != nil {
		t.Fatal(err)
	}
	if err := ten.DeletePolicy(policyNamed(t, ten, legacyName).ID); err != nil {
		t.Fatal(err)
	}
	saveTenant(t, data, ten)

	code, out, _ = run(t, "policy", "plan", "--data", data, "--json")
	p = planOf(t, out)
	want := map[string]struct {
		action policy.Action
		fields []string
	}{
		mfaName:    {policy.Update, []string{"state"}},
		appsName:   {policy.Update, []string{"conditions.users.excludeUsers", "state"}},
		freqName:   {policy.Update, []string{"conditions.users.includeGroups", "sessionControls.persistentBrowser.isEnabled", "sessionControls.persistentBrowser.mode"}},
		legacyName: {policy.Recreate, nil},
	}
	if code != 2 || len(p.Changes) != 4 {
		t.Fatalf("plan after the hand edits = %d %+v, want 2 and four changes", code, p.Changes)
	}
	for _, c := range p.Changes {
		if w := want[c.Name]; c.Action != w.action || !slices.Equal(c.Fields, w.fields) {
			t.Errorf("plan: %s %s %v, want %s %v", c.Name, c.Action, c.Fields, w.action, w.fields)
		}
	}

	code, out, errOut = run(t, "sweep", "reconcile", "--data", data, "--json")
	var sum sweep.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil || code != 0 {
		t.Fatalf("sweep reconcile = %d %v\n%s%s", code, err, out, errOut)
	}
	if len(sum.PolicyDrift) != 4 || sum.Repaired {
		t.Errorf("reconcile policy drift = %+v (repaired %v), want the four policies reported, not repaired", sum.PolicyDrift, sum.Repaired)
	}
	code, out, _ = run(t, "audit", "--data", data, "--json")
	var trail []engagement.AuditEntry
	if err := json.Unmarshal([]byte(out), &trail); err != nil || code != 0 {
		t.Fatalf("audit = %d %v\n%s", code, err, out)
	}
	drift := 0
	for _, a := range trail {
		if a.Action == engagement.PolicyDrift {
			drift++
		}
	}
	if drift != 4 {
		t.Errorf("%d policy.drift lines in the audit trail, want 4", drift)
	}
	if pol := policyNamed(t, openTenant(t, data), mfaName); pol.State != sandbox.PolicyDisabled {
		t.Errorf("the reconcile changed a policy while only reporting: %s", pol.State)
	}

	t.Setenv("STINT_POLICY_DRIFT", "repair")
	if code, out, errOut := run(t, "sweep", "reconcile", "--data", data, "--json"); code != 0 || !strings.Contains(out, `"repaired": true`) {
		t.Fatalf("reconcile with repair = %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := run(t, "policy", "plan", "--data", data); code != 0 {
		t.Errorf("plan after the repair = %d\n%s", code, out)
	}
	ten = openTenant(t, data)
	if got := policyNamed(t, ten, admin.DisplayName); got.ModifiedDateTime != nil || got.ID != admin.ID || len(ten.Policies()) != 5 {
		t.Errorf("the admin's own policy: %+v, %d policies in all; want it untouched beside stint's four", got, len(ten.Policies()))
	}
}

func sortedLower(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strings.ToLower(x)
	}
	slices.Sort(out)
	return out
}

func TestPolicyApplyWithoutBreakGlassWritesNothing(t *testing.T) {
	sandboxPolicies(t)
	t.Setenv("STINT_BREAK_GLASS", "")
	data := t.TempDir()
	code, _, errOut := run(t, "policy", "apply", "--sandbox", "--data", data)
	if code != 1 || !strings.Contains(errOut, "STINT_BREAK_GLASS is not set") {
		t.Errorf("apply without STINT_BREAK_GLASS = %d %q, want 1 naming the variable", code, errOut)
	}
	if n := len(openTenant(t, data).Policies()); n != 0 {
		t.Errorf("%d policies written", n)
	}
}

// A policy stint did not create that bears one of its names stops the
// apply before any write.
func TestPolicyConflictStopsTheApply(t *testing.T) {
	sandboxPolicies(t)
	data := t.TempDir()
	if code, _, errOut := run(t, "policy", "plan", "--sandbox", "--data", data); code != 2 {
		t.Fatalf("plan = %d %s", code, errOut)
	}
	ten := openTenant(t, data)
	theirs, err := ten.AddPolicy(sandbox.Policy{DisplayName: mfaName, State: sandbox.PolicyDisabled,
		Conditions: &sandbox.PolicyConditions{ClientAppTypes: []string{"all"},
			Applications: &sandbox.PolicyApplications{IncludeApplications: []string{"All"}},
			Users:        &sandbox.PolicyUsers{IncludeGroups: []string{host.SandboxGroups["contractor-access"]}}},
		GrantControls: &sandbox.GrantControls{Operator: "OR", BuiltInControls: []string{"mfa"}}})
	if err != nil {
		t.Fatal(err)
	}
	saveTenant(t, data, ten)
	code, out, errOut := run(t, "policy", "apply", "--data", data)
	if code != 1 || !strings.Contains(errOut, "did not create") || !strings.Contains(errOut, theirs.ID) {
		t.Errorf("apply with a conflict = %d %s%s, want 1 naming the policy", code, out, errOut)
	}
	ten = openTenant(t, data)
	if n := len(ten.Policies()); n != 1 || ten.Policies()[0].ModifiedDateTime != nil {
		t.Errorf("%d policies after the refused apply, want theirs alone, untouched", n)
	}
}

// Against a tenant configured in the environment: with the runtime's five
// permissions, plan fails naming Policy.Read.All; with it, check names a
// group no enabled MFA policy covers; a report-only one is a warning.
func TestPolicyPermissionsAndCoverage(t *testing.T) {
	sb := onCheckTenant(t, map[string]string{"STINT_STORE": "sqlite://" + filepath.Join(t.TempDir(), "stint.db"),
		"STINT_BREAK_GLASS": "user:" + host.SandboxBreakGlass, "STINT_ALLOWED_APPS": host.SandboxAllowedApp})
	const client = "11111111-2222-3333-4444-555555555555"
	defer sb.tenant.SetPermissions(client, entra.Core()...)
	sb.tenant.SetPermissions(client, entra.Core()...)
	if code, _, errOut := run(t, "policy", "plan"); code != 1 || !strings.Contains(errOut, "Policy.Read.All") {
		t.Errorf("plan with the runtime's five permissions = %d %q, want 1 naming Policy.Read.All", code, errOut)
	}
	if code, out, _ := run(t, "check"); code != 0 || !strings.Contains(out, "warning  conditional access") {
		t.Errorf("check without Policy.Read.All = %d\n%s; want a warning, not a failure", code, out)
	}

	sb.tenant.SetPermissions(client, append(entra.Core(), entra.ReadPolicies.Name)...)
	code, out, _ := run(t, "check")
	if code != 1 || !strings.Contains(out, "MISSING  conditional access for contractor-access") || !strings.Contains(out, sb.groupID) {
		t.Errorf("check with no policy = %d\n%s; want the uncovered group named", code, out)
	}
	if code, _, errOut := run(t, "policy", "apply"); code != 1 || !strings.Contains(errOut, "Policy.ReadWrite.ConditionalAccess") {
		t.Errorf("apply without the write permission = %d %q, want 1 naming it", code, errOut)
	}

	sb.tenant.SetPermissions(client, append(entra.Core(), entra.ReadPolicies.Name, entra.WritePolicies.Name)...)
	if code, _, errOut := run(t, "policy", "apply"); code != 0 {
		t.Fatalf("apply = %d %s", code, errOut)
	}
	if code, out, _ := run(t, "check"); code != 0 || !strings.Contains(out, "warning  conditional access for contractor-access") {
		t.Errorf("check with report-only policies = %d\n%s; want a warning", code, out)
	}
	if code, _, errOut := run(t, "policy", "apply", "--enforce"); code != 0 {
		t.Fatalf("apply --enforce = %d %s", code, errOut)
	}
	if code, out, _ := run(t, "check"); code != 0 || !strings.Contains(out, "ok       conditional access for contractor-access") {
		t.Errorf("check with enforced policies = %d\n%s", code, out)
	}
	for _, p := range sb.tenant.Policies() {
		sb.tenant.DeletePolicy(p.ID) // the tenant is shared by the package's tests
	}
}
