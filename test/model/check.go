package model

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/sandbox"
)

// Invariants names the invariants by number (see doc.go for their exact
// definitions).
var Invariants = map[int]string{
	1: "no one is in a managed group without an active engagement granting it",
	2: "every active contractor is in exactly the groups of their active engagements",
	3: "an account an administrator disabled is never enabled by stint",
	4: "a guest with no engagement left is blocked; a member is never disabled by stint",
	5: "no invitation for an address a user already has",
	6: "every accepted event is in the audit trail once as applied, applied_out_of_order or stale",
	7: "an active contractor's account can sign in unless an administrator disabled it",
}

// Violation is one break of an invariant.
type Violation struct {
	Invariant int
	// Entity is the person concerned ("c17", "b3"), or an object id.
	Entity string
	Detail string
}

func (v Violation) String() string {
	return fmt.Sprintf("invariant %d (%s) broken for %s: %s", v.Invariant, Invariants[v.Invariant], v.Entity, v.Detail)
}

// violate records a violation; the same one again (a request repeated by
// a retry) is recorded once.
func (r *run) violate(n int, who, format string, args ...any) {
	v := Violation{Invariant: n, Entity: who, Detail: fmt.Sprintf(format, args...)}
	r.logMu.Lock()
	known := slices.Contains(r.violations, v)
	if !known {
		r.violations = append(r.violations, v)
	}
	r.logMu.Unlock()
	if !known {
		r.linef(who, "VIOLATION %s", v)
	}
}

// check compares the settled tenant and ledger with the oracle. The
// request-time parts of invariants 3, 4 and 5 were checked by the wire.
func (r *run) check(ctx context.Context) error {
	now := r.clock.Now()
	want := Expect(r.accepted, owner, now)
	users := r.sys.tenant.Users()
	accounts := map[string][]sandbox.User{}
	whose := map[string]string{}
	for _, u := range users {
		if e := r.entityOf(u); e != "" {
			accounts[e] = append(accounts[e], u)
			whose[strings.ToLower(u.ID)] = e
		}
	}
	groupsOf := map[string][]string{}
	for _, key := range Keys {
		for _, uid := range r.sys.tenant.Members(Groups[key]) {
			uid = strings.ToLower(uid)
			groupsOf[uid] = append(groupsOf[uid], key)
			// 1: every member is justified by an active engagement.
			e := whose[uid]
			if e == "" {
				e = uid
			}
			if !slices.Contains(want[e].Want, key) {
				r.violate(1, e, "account %s is in %s at %s; the active engagements grant %v", uid, key, stamp(now), want[e].Want)
			}
		}
	}
	for _, e := range r.sc.Entities {
		if !r.keeps(e.ID) {
			continue
		}
		s, accs := want[e.ID], accounts[e.ID]
		r.checkAccess(e, s, accs, groupsOf)
		r.checkSignIn(e, s, accs)
	}
	// 3: an account an administrator disabled stays disabled.
	for uid, at := range r.adminDisabled {
		if u, ok := r.sys.tenant.User(uid); ok && u.AccountEnabled {
			r.violate(3, r.label(uid), "account %s, disabled by an administrator at %s, is enabled at the end", uid, stamp(at))
		}
	}
	return r.checkAudit(ctx)
}

// checkAccess: invariant 2, and 7 for the sign-in of active contractors.
func (r *run) checkAccess(e *Entity, s Standing, accs []sandbox.User, groupsOf map[string][]string) {
	if len(s.Want) == 0 {
		return
	}
	if len(accs) != 1 {
		ids := make([]string, len(accs))
		for i, u := range accs {
			ids[i] = u.ID
		}
		r.violate(2, e.ID, "is active (wants %v) but %d accounts hold %s: %v", s.Want, len(accs), e.Email, ids)
		return
	}
	u := accs[0]
	uid := strings.ToLower(u.ID)
	if got := groupsOf[uid]; !slices.Equal(got, s.Want) {
		r.violate(2, e.ID, "account %s is in %v, want %v", u.ID, got, s.Want)
	}
	if _, byAdmin := r.adminDisabled[uid]; !u.AccountEnabled && !byAdmin {
		r.violate(7, e.ID, "account %s is active (wants %v) but cannot sign in, and no administrator disabled it", u.ID, s.Want)
	}
}

// checkSignIn: invariant 4 at the end: a guest account stint resolved for
// a contractor with no engagement left is blocked.
func (r *run) checkSignIn(e *Entity, s Standing, accs []sandbox.User) {
	if !strings.HasPrefix(e.ID, "c") || s.Live {
		return
	}
	for _, u := range accs {
		uid := strings.ToLower(u.ID)
		if strings.EqualFold(u.UserType, "Guest") && r.knew[uid] && u.AccountEnabled {
			r.violate(4, e.ID, "guest account %s has no engagement left at %s yet can sign in", u.ID, stamp(r.clock.Now()))
		}
	}
}

// checkAudit: invariant 6. Every accepted event id has exactly one line
// event.applied, event.applied_out_of_order or event.stale, and at most one
// event.duplicate line per delivery after the first.
func (r *run) checkAudit(ctx context.Context) error {
	trail, err := r.sys.ledger.Audit(ctx, engagement.AuditQuery{})
	if err != nil {
		return err
	}
	lines := map[string]map[string]int{}
	for _, a := range trail {
		if a.EventID == "" {
			continue
		}
		if lines[a.EventID] == nil {
			lines[a.EventID] = map[string]int{}
		}
		lines[a.EventID][string(a.Action)]++
	}
	dead, err := r.sys.queue.DeadLetters(ctx)
	if err != nil {
		return err
	}
	why := map[string]string{}
	for _, d := range dead {
		why[eventID(d.ID)] = "; it is in the dead letters: " + d.Reason
	}
	for _, id := range sortedKeys(r.acceptedIDs) {
		got := lines[id]
		applied := got["event.applied"] + got["event.applied_out_of_order"] + got["event.stale"]
		n := r.deliveries[id]
		who, _, _ := strings.Cut(id, "-") // event ids start with their contractor
		if applied != 1 {
			r.violate(6, who, "event %s has %d applied/applied_out_of_order/stale lines, want 1 (lines %v; delivered %d times)%s", id, applied, got, n, why[id])
		}
		if d := got["event.duplicate"]; d > max(n-1, 0) {
			r.violate(6, who, "event %s has %d duplicate lines but was delivered only %d times", id, d, n)
		}
	}
	return nil
}
