package entra_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/entra/entratest"
	"github.com/stintdev/stint/pkg/sandbox"
)

var caPermissions = append(entra.Core(), entra.ReadPolicies.Name, entra.WritePolicies.Name)

func caPolicy(n int) []byte {
	return []byte(fmt.Sprintf(`{"displayName":"stint: p%d","state":"enabledForReportingButNotEnforced",
		"conditions":{"clientAppTypes":["all"],"applications":{"includeApplications":["All"]},"users":{"includeGroups":["5a11d0c0-5717-4e5d-8000-0000000000c1"]}},
		"grantControls":{"operator":"OR","builtInControls":["mfa"]}}`, n))
}

// Conditional Access answers 429 without Retry-After: the adapter waits
// on its own and the create goes through, once.
func TestCreatePolicyWaitsOutA429WithoutRetryAfter(t *testing.T) {
	tenant, c := entratest.Start(t, entratest.Options{Permissions: caPermissions})
	tenant.Inject(sandbox.Fault{Method: "POST", Path: "/identity/conditionalAccess/policies", Status: 429, Times: 1})
	raw, err := c.CreatePolicy(context.Background(), caPolicy(1))
	if err != nil {
		t.Fatalf("create after a 429 without Retry-After: %v", err)
	}
	var made struct{ ID string }
	if json.Unmarshal(raw, &made); made.ID == "" || len(tenant.Policies()) != 1 {
		t.Fatalf("created %s; the tenant holds %d policies, want the one", raw, len(tenant.Policies()))
	}
	var statuses []int
	for _, r := range tenant.Journal() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/conditionalAccess/policies") {
			statuses = append(statuses, r.Status)
		}
	}
	if fmt.Sprint(statuses) != "[429 201]" {
		t.Errorf("creates answered %v, want one 429 then one 201", statuses)
	}
}

// Under the documented limit (about one request a second for the tenant),
// a burst of creates and a list all go through.
func TestPoliciesUnderTheConditionalAccessThrottle(t *testing.T) {
	tenant, c := entratest.Start(t, entratest.Options{Permissions: caPermissions})
	tenant.EnableConditionalAccessThrottle(1)
	ctx := context.Background()
	for i := range 2 {
		if _, err := c.CreatePolicy(ctx, caPolicy(i)); err != nil {
			t.Fatalf("create %d under the throttle: %v", i, err)
		}
	}
	got, err := c.ListPolicies(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("list under the throttle: %d policies, %v", len(got), err)
	}
	throttled := 0
	for _, r := range tenant.Journal() {
		if r.Status == 429 {
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("no request was throttled: the test does not test the wait")
	}
}

// Without Policy.Read.All, reading fails with a 403 that names it.
func TestListPoliciesNamesTheMissingPermission(t *testing.T) {
	_, c := entratest.Start(t, entratest.Options{})
	_, err := c.ListPolicies(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Policy.Read.All") {
		t.Errorf("list with the five core permissions: %v, want a 403 naming Policy.Read.All", err)
	}
}
