package sweep

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/notify"
	"github.com/stintdev/stint/pkg/policy"
	"github.com/stintdev/stint/pkg/worker"
)

// Mark keys in the ledger.
const (
	checkpointMark = "reconcile/next-group"
	ghostPrefix    = "ghost/"
)

// Reconcile lists the members of every allow-listed group and compares
// them with the ledger (engagement.ClassifyMember, ClassifyAbsent):
//
//   - ghosts, members no active engagement justifies, are flagged at first
//     sight and removed once GhostGrace has passed since (never when
//     ReportGhosts), so that a late webhook causes no wrong removal;
//   - accounts stint disabled that are members again are removed at once;
//   - drift, active engagements whose member is missing, is put back;
//   - guests whose invitation is unredeemed after UnredeemedAfter are
//     flagged;
//   - stint's Conditional Access policies that were changed or deleted by
//     hand are reported, and repaired when RepairPolicies is set.
//
// What it decides for a contractor stint knows — put a group back, take
// one away, a start or an end the tick has not reached — it does by
// settling that contractor with the worker's rules, which claim the
// contractor and read the records afresh: the reconcile's own reading is
// minutes old by then, and an end processed since must not be undone.
// Only members no record names are removed directly, in $batch requests of
// 20.
//
// Groups are listed 999 members a page with $select. A run that nears its
// deadline saves the next group to visit, and the next run starts there. A
// dry run writes nothing, starts at the first group, and settles nobody.
func (s *Sweeper) Reconcile(ctx context.Context, dryRun bool) (Summary, error) {
	r := &reconcileRun{s: s, ctx: ctx, now: s.Now(), dryRun: dryRun, sum: &Summary{Mode: "reconcile", DryRun: dryRun},
		settle: map[string]*worker.Found{}, reasons: map[string]string{}}
	if err := r.read(); err != nil {
		return *r.sum, err
	}
	keys := slices.Sorted(maps.Keys(s.Groups))
	first := 0
	if saved, err := s.Ledger.Marks(ctx, checkpointMark); err == nil && !dryRun {
		if n, err := strconv.Atoi(saved[checkpointMark]); err == nil && n < len(keys) {
			first = n
		}
	}
	r.p = &progress{s: s, ctx: ctx, last: time.Now(), groups: len(keys)}
	for i := first; i < len(keys); i++ {
		if !s.timeLeft(ctx) {
			var err error
			if !dryRun {
				err = s.Ledger.SetMark(ctx, checkpointMark, strconv.Itoa(i))
			}
			s.Log.InfoContext(ctx, "sweep: reconcile stopped at its time limit; the next run resumes", "next_group", keys[i])
			return *r.sum, err
		}
		if err := r.group(keys[i]); err != nil {
			return *r.sum, err
		}
		r.p.groupsDone++
	}
	r.sum.Complete = true
	s.policyDrift(ctx, r.sum, dryRun)
	if dryRun {
		return *r.sum, nil
	}
	if err := s.Ledger.DeleteMark(ctx, checkpointMark); err != nil {
		return *r.sum, err
	}
	for _, contractor := range slices.Sorted(maps.Keys(r.settle)) {
		r.settleOne(contractor)
	}
	for _, c := range r.sum.PolicyDrift {
		what := fmt.Sprintf("%s by hand (%s)", c.Action, strings.Join(c.Fields, ", "))
		if r.sum.Repaired {
			what += "; put back"
		}
		r.notes = append(r.notes, notify.Notification{ID: "policy-drift/" + c.Key + "/" + r.now.UTC().Format("2006-01-02"), Type: notify.PolicyDrift,
			Subject: c.Name, Time: r.now, Data: notify.Data{Policy: c.Name, Reason: what}})
	}
	s.notify(ctx, r.sum, r.notes...)
	s.oversee(ctx, r.now, r.sum)
	return *r.sum, nil
}

// driftNote is the notification of a membership the reconcile put back in
// line, once a day per contractor and group.
func driftNote(contractor, key, how, why, day string, now time.Time) notify.Notification {
	return notify.Notification{ID: "drift/" + contractor + "/" + key + "/" + how + "/" + day, Type: notify.DriftFound, Subject: contractor, Time: now,
		Data: notify.Data{Contractor: contractor, Group: key, Reason: how + " back: " + why}}
}

// policyDrift compares stint's Conditional Access policies with the
// desired ones, after the groups (a dry run looks without writing). Read
// permission missing is not an error: the check is optional, and says
// once that it is off.
func (s *Sweeper) policyDrift(ctx context.Context, sum *Summary, dryRun bool) {
	off := func(why string) {
		sum.Policies = why
		s.policyNote.Do(func() { s.Log.WarnContext(ctx, "sweep: "+why) })
	}
	if s.Policies == nil {
		if s.PoliciesOff != "" {
			off(s.PoliciesOff)
		}
		return
	}
	repair := s.RepairPolicies && !dryRun
	drifted, err := s.Policies.Drift(ctx, policy.DriftOptions{Repair: repair, DryRun: dryRun})
	switch {
	case fault.Is(err, fault.Unauthorized):
		off("the policy drift check is off: " + err.Error())
		return
	case err != nil:
		sum.Errors++
		sum.Policies = "the policy drift check failed: " + err.Error()
		s.Log.ErrorContext(ctx, "sweep: policy drift check failed", "error", err.Error())
	}
	sum.PolicyDrift, sum.Repaired = drifted, repair && len(drifted) > 0 && err == nil
}

// reconcileRun is one reconcile: the ledger as it read it, and what it
// found so far.
type reconcileRun struct {
	s      *Sweeper
	ctx    context.Context
	now    time.Time
	dryRun bool
	sum    *Summary
	p      *progress
	// byUser and byKey are the contractor records with an account; want
	// lists each contractor's access keys of active engagements.
	byUser map[string]engagement.Contractor
	byKey  map[string]engagement.Contractor
	want   map[string][]string
	marks  map[string]string
	// settle holds the contractors to settle at the end, with the groups
	// found missing or present against the records; reasons says why, by
	// contractor and access key.
	settle  map[string]*worker.Found
	reasons map[string]string
	// notes are the notifications of what it found.
	notes []notify.Notification
}

// read reads the ledger: every contractor record, the access of every
// engagement active now, and the ghosts' first sightings.
func (r *reconcileRun) read() error {
	r.byUser, r.byKey, r.want = map[string]engagement.Contractor{}, map[string]engagement.Contractor{}, map[string][]string{}
	for c, err := range r.s.Ledger.Contractors(r.ctx) {
		if err != nil {
			return err
		}
		r.byKey[c.Key] = c // an active contractor without an account is settled too
		if c.UserID != "" {
			r.byUser[c.UserID] = c
		}
	}
	for e, err := range r.s.Ledger.Active(r.ctx) {
		if err != nil {
			return err
		}
		if e.StatusAt(r.now) == engagement.Active {
			r.want[e.Contractor] = append(r.want[e.Contractor], e.Access...)
		}
	}
	var err error
	r.marks, err = r.s.Ledger.Marks(r.ctx, ghostPrefix)
	return err
}

// group lists one group and judges every member, then every contractor
// the group lacks.
func (r *reconcileRun) group(key string) error {
	gid := r.s.Groups[key]
	members := map[string]bool{}
	var ghosts []Account
	for u, err := range r.s.Directory.Members(r.ctx, gid) {
		if err != nil {
			return fmt.Errorf("sweep: list members of %s: %w", key, err)
		}
		r.sum.Examined++
		members[u.ID] = true
		r.p.member()
		r.unredeemed(u, key)
		c, known := r.byUser[u.ID]
		finding := engagement.ClassifyMember(engagement.Member{Contractor: c, Known: known, Want: r.want[c.Key], Key: key, Enabled: u.Enabled})
		switch finding {
		case engagement.Justified:
		case engagement.Lagging:
			r.found(c.Key, key, "", "")
		case engagement.Readmitted:
			r.found(c.Key, key, "present", "stint blocked this account when its engagements ended, yet it is a member again")
		case engagement.Ghost:
			if a, remove := r.ghost(u, c.Key, key, gid); remove && known {
				r.found(c.Key, key, "present", a.Reason)
			} else if remove {
				ghosts = append(ghosts, a)
			}
		}
	}
	for contractor, c := range r.byKey {
		switch engagement.ClassifyAbsent(c, r.want[contractor], key) {
		case engagement.Missing:
			if !members[c.UserID] {
				r.found(contractor, key, "missing", "drift: an active engagement grants "+key+" but the user was not a member (removed by hand?)")
			}
		case engagement.Due:
			if !members[c.UserID] {
				r.found(contractor, key, "", "")
			}
		}
	}
	r.forgetGone(gid, members)
	return r.removeGhosts(gid, ghosts)
}

// forgetGone forgets the first sightings of ghosts of this group that are
// no longer members (removed by someone else), so a later return starts
// its grace period afresh. Each group's marks are its own: a resumed run
// purges those of the groups it visits.
func (r *reconcileRun) forgetGone(gid string, members map[string]bool) {
	if r.dryRun {
		return
	}
	prefix := ghostPrefix + gid + "/"
	for mark := range r.marks {
		if uid, ok := strings.CutPrefix(mark, prefix); ok && !members[uid] {
			r.forget(gid, uid)
		}
	}
}

// unredeemed flags a guest whose invitation is still pending after
// UnredeemedAfter.
func (r *reconcileRun) unredeemed(u engagement.User, key string) {
	if u.Guest && u.ExternalState == "PendingAcceptance" && !u.CreatedAt.IsZero() && r.now.Sub(u.CreatedAt) > r.s.UnredeemedAfter {
		r.sum.Flagged++
		r.sum.note(Account{UserID: u.ID, Contractor: r.byUser[u.ID].Key, Group: key, Action: "flagged",
			Reason: fmt.Sprintf("invitation not redeemed since %s", stamp(u.CreatedAt))})
	}
}

// found notes a contractor to settle; how is "missing" or "present" when
// the group's membership differs from what stint granted.
func (r *reconcileRun) found(contractor, key, how, reason string) {
	if r.dryRun {
		switch how {
		case "missing":
			r.sum.note(Account{UserID: r.byKey[contractor].UserID, Contractor: contractor, Group: key, Action: "would add", Reason: reason})
		case "present":
			r.sum.note(Account{UserID: r.byKey[contractor].UserID, Contractor: contractor, Group: key, Action: "would remove", Reason: reason})
		}
		return
	}
	f := r.settle[contractor]
	if f == nil {
		f = &worker.Found{}
		r.settle[contractor] = f
	}
	switch how {
	case "missing":
		f.Missing = append(f.Missing, key)
	case "present":
		f.Present = append(f.Present, key)
	}
	if reason != "" {
		r.reasons[contractor+" "+key] = reason
	}
}

// ghost judges a member nothing justifies: flagged within the grace period
// (or always, when ReportGhosts), to remove after it. Its first sighting
// is kept as a mark.
func (r *reconcileRun) ghost(u engagement.User, contractor, key, gid string) (Account, bool) {
	r.sum.Ghosts++
	mark := ghostPrefix + gid + "/" + u.ID
	since, err := time.Parse(time.RFC3339, r.marks[mark])
	if err != nil {
		since = r.now
		if !r.dryRun {
			what := fmt.Sprintf("holds %s with no active engagement; removed after %s unless one arrives", key, r.s.GhostGrace)
			if r.s.ReportGhosts {
				what = fmt.Sprintf("holds %s with no active engagement (report only)", key)
			}
			r.notes = append(r.notes, notify.Notification{ID: "ghost/" + gid + "/" + u.ID + "/" + stamp(since), Type: notify.GhostFound,
				Subject: cmp.Or(u.Mail, u.UserPrincipalName, u.ID), Time: since,
				Data: notify.Data{User: u.ID, Group: key, Contractor: cmp.Or(contractor, u.Mail, u.UserPrincipalName), Reason: what}})
			if err := r.s.Ledger.SetMark(r.ctx, mark, r.now.UTC().Format(time.RFC3339)); err != nil {
				r.s.Log.WarnContext(r.ctx, "sweep: ghost's first sighting not recorded", "user", u.ID, "error", err.Error())
			}
			r.marks[mark] = r.now.UTC().Format(time.RFC3339)
		}
	}
	who := u.Mail
	if who == "" {
		who = u.UserPrincipalName
	}
	a := Account{UserID: u.ID, Contractor: contractor, Group: key, Action: "flagged"}
	switch {
	case r.s.ReportGhosts:
		a.Reason = fmt.Sprintf("ghost: %s holds %s with no active engagement (seen since %s; report-only)", who, key, stamp(since))
	case r.now.Sub(since) < r.s.GhostGrace:
		a.Reason = fmt.Sprintf("ghost: %s holds %s with no active engagement (seen since %s; removed after %s unless an engagement arrives)",
			who, key, stamp(since), since.Add(r.s.GhostGrace).UTC().Format(time.RFC3339))
	default:
		a.Action = "remove"
		a.Reason = fmt.Sprintf("ghost: %s held %s with no active engagement for the whole grace period (since %s)", who, key, stamp(since))
		return a, true
	}
	r.sum.Flagged++
	r.sum.note(a)
	return a, false
}

// removeGhosts removes members no record names, in $batch requests, and
// forgets the first sighting of each one removed; one whose removal failed
// keeps its grace, and the next run tries again.
func (r *reconcileRun) removeGhosts(gid string, ghosts []Account) error {
	if len(ghosts) == 0 {
		return nil
	}
	if r.dryRun {
		for _, a := range ghosts {
			a.Action = "would remove"
			r.sum.note(a)
		}
		return nil
	}
	ids := make([]string, len(ghosts))
	for i, a := range ghosts {
		ids[i] = a.UserID
	}
	err := r.s.Directory.RemoveMembers(r.ctx, gid, ids)
	var bulk *engagement.BulkError
	failed := map[string]error{}
	switch {
	case errors.As(err, &bulk):
		failed = bulk.Failed
	case err != nil:
		for _, id := range ids {
			failed[id] = err
		}
	}
	for _, a := range ghosts {
		if ferr, ok := failed[a.UserID]; ok {
			r.sum.Errors++
			a.Action, a.Reason = "failed", a.Reason+"; "+ferr.Error()
			r.s.Log.WarnContext(r.ctx, "sweep: write failed", "user", a.UserID, "group", a.Group, "code", string(fault.CodeOf(ferr)), "error", ferr.Error())
		} else {
			a.Action = "removed"
			r.sum.Removed++
			r.forget(gid, a.UserID)
		}
		r.sum.note(a)
	}
	return nil
}

// forget deletes a ghost's first sighting once it is gone.
func (r *reconcileRun) forget(gid, uid string) {
	mark := ghostPrefix + gid + "/" + uid
	if _, ok := r.marks[mark]; !ok {
		return
	}
	if err := r.s.Ledger.DeleteMark(r.ctx, mark); err != nil {
		r.s.Log.WarnContext(r.ctx, "sweep: ghost's first sighting not forgotten", "user", uid, "error", err.Error())
		return
	}
	delete(r.marks, mark)
}

// settleOne settles a contractor with the worker's rules, reading the
// records afresh, and reports the groups it added or removed. A contractor
// another settle holds is left to it.
func (r *reconcileRun) settleOne(contractor string) {
	found := *r.settle[contractor]
	settled, err := r.s.Worker.Settle(r.ctx, contractor, "stint:reconcile", found)
	switch {
	case worker.IsBusy(err):
		r.s.Log.InfoContext(r.ctx, "sweep: contractor left to the settle that holds it", "contractor", contractor)
		return
	case err != nil:
		r.sum.Errors++
		r.sum.note(Account{Contractor: contractor, Action: "failed", Reason: err.Error()})
		return
	}
	uid := settled.Contractor.UserID
	why := func(key, otherwise string) string {
		if reason := r.reasons[contractor+" "+key]; reason != "" {
			return reason
		}
		return otherwise
	}
	day := r.now.UTC().Format("2006-01-02")
	for _, key := range settled.Plan.Add {
		r.notes = append(r.notes, driftNote(contractor, key, "added", why(key, ""), day, r.now))
	}
	for _, key := range settled.Plan.Remove {
		r.notes = append(r.notes, driftNote(contractor, key, "removed", why(key, ""), day, r.now))
	}
	for _, key := range settled.Plan.Add {
		r.sum.Added++
		r.sum.note(Account{UserID: uid, Contractor: contractor, Group: key, Action: "added", Reason: why(key, "an engagement granting "+key+" is active")})
	}
	for _, key := range settled.Plan.Remove {
		r.sum.Removed++
		r.sum.note(Account{UserID: uid, Contractor: contractor, Group: key, Action: "removed", Reason: why(key, "no active engagement grants "+key)})
		if gid, ok := r.s.Groups[key]; ok {
			r.forget(gid, uid)
		}
	}
	if settled.Plan.Block {
		r.sum.Disabled++
		r.sum.note(Account{UserID: uid, Contractor: contractor, Action: "block", Reason: "no engagement left"})
	}
}

// progress logs a long run's progress at most every ProgressEvery.
type progress struct {
	s          *Sweeper
	ctx        context.Context
	last       time.Time
	groups     int
	groupsDone int
	members    int
}

func (p *progress) member() {
	p.members++
	every := p.s.ProgressEvery
	if every == 0 {
		every = 10 * time.Second
	}
	if time.Since(p.last) >= every {
		p.last = time.Now()
		p.s.Log.InfoContext(p.ctx, "sweep: reconcile progress", "groups_done", p.groupsDone, "groups", p.groups, "members_examined", p.members)
	}
}
