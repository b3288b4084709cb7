package sweep_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/entra/entratest"
	"github.com/stintdev/stint/pkg/sandbox"
)

// signInEnv is a sweep env whose reconcile reads sign-ins through the
// Graph adapter, with perms granted.
func signInEnv(t *testing.T, perms []string) *env {
	e := newEnv(t, entratest.Options{Permissions: perms})
	e.sweeper.Oversight.SignIns = e.worker.Directory.(*entra.Client)
	e.sweeper.Oversight.DormantAfter = e.at(30).Sub(e.at(0))
	return e
}

// With STINT_DORMANT_ACTION=end, a contractor quiet past the threshold is
// flagged once and their engagement ended by an event of stint's own: the
// worker's rules take the access away, and the audit trail says why.
func TestDormantContractorIsEndedWhenAsked(t *testing.T) {
	e := signInEnv(t, append(entra.Core(), "AuditLog.Read.All"))
	e.sweeper.Oversight.DormantEnd = true
	e.start(t, "quiet@partner.example", e.at(-60), e.at(60))
	u, _ := e.member(t, "quiet@partner.example")
	if _, err := e.tenant.SignIn(u.ID, sandbox.SignIn{At: e.at(-45), Success: true, Interactive: true}); err != nil {
		t.Fatal(err)
	}
	sum, _ := e.run(t, "reconcile", false)
	if sum.Dormant != 1 || sum.Expired != 1 || sum.SignIns != "" {
		t.Fatalf("summary dormant %d, expired %d, sign-ins %q; want one dormant contractor ended", sum.Dormant, sum.Expired, sum.SignIns)
	}
	if _, in := e.member(t, "quiet@partner.example"); in {
		t.Errorf("the dormant contractor still holds contractor-access")
	}
	trail, _ := e.ledger.Audit(context.Background(), engagement.AuditQuery{Contractor: "quiet@partner.example"})
	var dormant, ended bool
	for _, a := range trail {
		dormant = dormant || a.Action == engagement.ContractorDormant && strings.Contains(a.Detail, "STINT_DORMANT_ACTION=end")
		ended = ended || a.Actor == "stint/dormant" && a.Action == engagement.EventApplied
	}
	if !dormant || !ended {
		t.Errorf("audit trail lacks the dormant finding (%v) or the end stint caused (%v): %+v", dormant, ended, trail)
	}
	if sum, _ := e.run(t, "reconcile", false); sum.Dormant != 0 {
		t.Errorf("a second reconcile counts %d dormant, want none: the engagement ended", sum.Dormant)
	}
}

// Without AuditLog.Read.All the sign-ins are unknown: the reconcile says
// so, flags no one dormant and counts no error.
func TestSignInsUnknownWithoutThePermission(t *testing.T) {
	e := signInEnv(t, entra.Core())
	e.start(t, "quiet@partner.example", e.at(-60), e.at(60))
	sum, _ := e.run(t, "reconcile", false)
	if sum.Dormant != 0 || sum.Errors != 0 || !strings.Contains(sum.SignIns, "AuditLog.Read.All") {
		t.Errorf("summary dormant %d, errors %d, sign-ins %q; want unknown, naming the permission", sum.Dormant, sum.Errors, sum.SignIns)
	}
	marks, _ := e.ledger.Marks(context.Background(), "signin/")
	if len(marks) != 0 {
		t.Errorf("sign-in marks %v, want none when unknown", marks)
	}
}
