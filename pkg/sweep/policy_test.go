package sweep_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/entra/entratest"
	"github.com/stintdev/stint/pkg/wire"
)

var policyConfig = config.Policies{
	BreakGlass:  []config.Principal{{Kind: "user", ID: "5a11d0c0-5717-4e5d-8000-0000000000b1"}},
	AllowedApps: []string{"00000002-0000-0ff1-ce00-000000000000"},
}

// With the runtime's five permissions the drift check is off: each
// reconcile's summary says why, the log says so once, and the run is not
// an error.
func TestPolicyDriftIsOffWithoutPolicyReadAll(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	var logs bytes.Buffer
	e.sweeper.Log = slog.New(slog.NewTextHandler(&logs, nil))
	tenant, ok := e.sweeper.Directory.(*entra.Client)
	if !ok {
		t.Fatal("the sweeper's directory is not the Graph adapter")
	}
	m, err := wire.Policies(tenant, e.ledger, e.groups, policyConfig, "stint:reconcile", e.sweeper.Log)
	if err != nil {
		t.Fatal(err)
	}
	e.sweeper.Policies = m
	for range 2 {
		sum, _ := e.run(t, "reconcile", false)
		if sum.Errors != 0 || !strings.Contains(sum.Policies, "drift check is off") || !strings.Contains(sum.Policies, "Policy.Read.All") {
			t.Errorf("reconcile summary: errors %d, policies %q; want no error and the check off for want of Policy.Read.All", sum.Errors, sum.Policies)
		}
	}
	if n := strings.Count(logs.String(), "drift check is off"); n != 1 {
		t.Errorf("the log says the check is off %d times, want once:\n%s", n, logs.String())
	}
}

// Applied policies that drift are reported by the reconcile, and repaired
// when asked.
func TestReconcileReportsAndRepairsPolicyDrift(t *testing.T) {
	e := newEnv(t, entratest.Options{Permissions: append(entra.Core(), entra.ReadPolicies.Name, entra.WritePolicies.Name)})
	tenant := e.sweeper.Directory.(*entra.Client)
	m, err := wire.Policies(tenant, e.ledger, e.groups, policyConfig, "stint:reconcile", e.sweeper.Log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	e.sweeper.Policies = m
	if sum, _ := e.run(t, "reconcile", false); len(sum.PolicyDrift) != 0 {
		t.Fatalf("drift right after apply: %+v", sum.PolicyDrift)
	}
	p := e.tenant.Policies()[0]
	e.tenant.SetPolicyState(p.ID, "disabled")
	sum, _ := e.run(t, "reconcile", true)
	if len(sum.PolicyDrift) != 1 || sum.PolicyDrift[0].ID != p.ID || sum.Repaired {
		t.Errorf("dry run: drift %+v, repaired %v; want the disabled policy, not repaired", sum.PolicyDrift, sum.Repaired)
	}
	e.sweeper.RepairPolicies = true
	sum, _ = e.run(t, "reconcile", false)
	if got, _ := e.tenant.Policy(p.ID); len(sum.PolicyDrift) != 1 || !sum.Repaired || got.State != "enabledForReportingButNotEnforced" {
		t.Errorf("repair: drift %+v, repaired %v, state %s; want it put back to report-only", sum.PolicyDrift, sum.Repaired, got.State)
	}
}
