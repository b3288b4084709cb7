package sweep

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Mark keys in the ledger.
const (
	checkpointMark = "reconcile/next-group"
	ghostPrefix    = "ghost/"
)

// desired is what the ledger says each directory user should hold.
type desired struct {
	byUser map[string]engagement.Contractor // user id -> contractor record
	byKey  map[string]engagement.Contractor // contractor key -> record
	want   map[string][]string              // contractor key -> access keys of active engagements
	// settle lists contractors whose applied state lags their engagements
	// (an end the tick has not reached): the worker's rules fix those.
	settle map[string]bool
	// missing lists, per contractor, the access keys stint granted whose
	// group no longer holds the user (drift): settling them puts them back
	// if the records, read afresh, still want it.
	missing map[string][]string
}

// Reconcile lists the members of every allow-listed group and compares
// them with the ledger:
//
//   - ghosts, members no active engagement justifies, are flagged at first
//     sight and removed once GhostGrace has passed since (never when
//     ReportGhosts), so that a late webhook causes no wrong removal;
//   - accounts stint disabled that are members again are removed at once;
//   - drift, active engagements whose member is missing, is re-added;
//   - guests whose invitation is unredeemed after UnredeemedAfter are
//     flagged.
//
// Groups are listed 999 members a page with $select; writes go in $batch
// requests of 20. A run that nears its deadline saves the next group to
// visit and the next run starts there.
func (s *Sweeper) Reconcile(ctx context.Context, dryRun bool) (Summary, error) {
	sum := Summary{Mode: "reconcile", DryRun: dryRun}
	now := s.Now()
	d, err := s.desired(ctx, now)
	if err != nil {
		return sum, err
	}
	marks, err := s.Ledger.Marks(ctx, ghostPrefix)
	if err != nil {
		return sum, err
	}
	keys := make([]string, 0, len(s.Groups))
	for k := range s.Groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	first := 0
	if saved, err := s.Ledger.Marks(ctx, checkpointMark); err == nil {
		if n, err := strconv.Atoi(saved[checkpointMark]); err == nil && n < len(keys) {
			first = n
		}
	}
	p := &progress{s: s, ctx: ctx, last: time.Now(), groups: len(keys)}
	seen := map[string]bool{}
	for i := first; i < len(keys); i++ {
		if !s.timeLeft(ctx) {
			if !dryRun {
				err = s.Ledger.SetMark(ctx, checkpointMark, strconv.Itoa(i))
			}
			s.Log.InfoContext(ctx, "sweep: reconcile stopped at its time limit; the next run resumes", "next_group", keys[i])
			return sum, err
		}
		if err := s.reconcileGroup(ctx, keys[i], d, marks, seen, now, dryRun, &sum, p); err != nil {
			return sum, err
		}
		p.groupsDone++
	}
	sum.Complete = true
	if dryRun {
		return sum, nil
	}
	if err := s.Ledger.DeleteMark(ctx, checkpointMark); err != nil {
		return sum, err
	}
	// A ghost no longer seen (removed by someone else) is forgotten, so a
	// later return starts its grace period afresh. Only after a run that
	// visited every group: a resumed run did not see them all.
	if first == 0 {
		for key := range marks {
			if !seen[key] {
				if err := s.Ledger.DeleteMark(ctx, key); err != nil {
					return sum, err
				}
			}
		}
	}
	for contractor := range d.settle {
		s.settle(ctx, contractor, d.missing[contractor], &sum)
	}
	return sum, nil
}

// settle settles a contractor with the worker's rules, reading the records
// afresh: an end processed since the reconcile read the ledger is not
// undone. Groups found missing (drift) are put back if still wanted.
func (s *Sweeper) settle(ctx context.Context, contractor string, missing []string, sum *Summary) {
	settled, err := s.Worker.Settle(ctx, contractor, "stint:reconcile", missing...)
	if err != nil {
		sum.Errors++
		sum.note(Account{Contractor: contractor, Action: "failed", Reason: err.Error()})
		return
	}
	uid := settled.Contractor.UserID
	for _, key := range settled.Plan.Add {
		sum.Added++
		reason := "an engagement granting " + key + " is active"
		if slices.Contains(missing, key) {
			reason = "drift: an active engagement grants " + key + " but the user was not a member (removed by hand?)"
		}
		sum.note(Account{UserID: uid, Contractor: contractor, Group: key, Action: "added", Reason: reason})
	}
}

// desired reads the ledger: every contractor record, and the access of
// every engagement active at now.
func (s *Sweeper) desired(ctx context.Context, now time.Time) (desired, error) {
	d := desired{byUser: map[string]engagement.Contractor{}, byKey: map[string]engagement.Contractor{}, want: map[string][]string{},
		settle: map[string]bool{}, missing: map[string][]string{}}
	for c, err := range s.Ledger.Contractors(ctx) {
		if err != nil {
			return d, err
		}
		if c.UserID != "" {
			d.byUser[c.UserID] = c
			d.byKey[c.Key] = c
		}
	}
	for e, err := range s.Ledger.Active(ctx) {
		if err != nil {
			return d, err
		}
		if e.StatusAt(now) == engagement.Active {
			d.want[e.Contractor] = append(d.want[e.Contractor], e.Access...)
		}
	}
	return d, nil
}

// reconcileGroup lists one group and acts on what it finds.
func (s *Sweeper) reconcileGroup(ctx context.Context, key string, d desired, marks map[string]string, seen map[string]bool, now time.Time, dryRun bool, sum *Summary, p *progress) error {
	gid := s.Groups[key]
	members := map[string]bool{}
	var remove []Account
	for u, err := range s.Directory.Members(ctx, gid) {
		if err != nil {
			return fmt.Errorf("sweep: list members of %s: %w", key, err)
		}
		sum.Examined++
		members[u.ID] = true
		p.member()
		c, known := d.byUser[u.ID]
		if u.Guest && u.ExternalState == "PendingAcceptance" && !u.CreatedAt.IsZero() && now.Sub(u.CreatedAt) > s.UnredeemedAfter {
			sum.Flagged++
			sum.note(Account{UserID: u.ID, Contractor: c.Key, Group: key, Action: "flagged",
				Reason: fmt.Sprintf("invitation not redeemed since %s", stamp(u.CreatedAt))})
		}
		switch {
		case known && slices.Contains(d.want[c.Key], key):
			continue // justified
		case known && c.DisabledByStint && !u.Enabled:
			remove = append(remove, Account{UserID: u.ID, Contractor: c.Key, Group: key, Action: "remove",
				Reason: "stint blocked this account when its engagements ended, yet it is a member again"})
			continue
		case known && slices.Contains(c.Granted, key):
			d.settle[c.Key] = true // an expiry the tick has not reached yet
			continue
		}
		mark := ghostPrefix + gid + "/" + u.ID
		seen[mark] = true
		since, err := time.Parse(time.RFC3339, marks[mark])
		if err != nil {
			since = now
			if !dryRun {
				if err := s.Ledger.SetMark(ctx, mark, now.UTC().Format(time.RFC3339)); err != nil {
					return err
				}
			}
		}
		who := u.Mail
		if who == "" {
			who = u.UserPrincipalName
		}
		switch {
		case s.ReportGhosts:
			sum.Flagged++
			sum.note(Account{UserID: u.ID, Contractor: c.Key, Group: key, Action: "flagged",
				Reason: fmt.Sprintf("ghost: %s holds %s with no active engagement (seen since %s; report-only)", who, key, stamp(since))})
		case now.Sub(since) < s.GhostGrace:
			sum.Flagged++
			sum.note(Account{UserID: u.ID, Contractor: c.Key, Group: key, Action: "flagged",
				Reason: fmt.Sprintf("ghost: %s holds %s with no active engagement (seen since %s; removed after %s unless an engagement arrives)", who, key, stamp(since), since.Add(s.GhostGrace).UTC().Format(time.RFC3339))})
		default:
			remove = append(remove, Account{UserID: u.ID, Contractor: c.Key, Group: key, Action: "remove",
				Reason: fmt.Sprintf("ghost: %s held %s with no active engagement for the whole grace period (since %s)", who, key, stamp(since))})
		}
	}
	for contractor, keys := range d.want {
		c, ok := d.byKey[contractor]
		switch {
		case !ok || !slices.Contains(keys, key) || members[c.UserID]:
		case slices.Contains(c.Granted, key) && dryRun:
			sum.note(Account{UserID: c.UserID, Contractor: contractor, Group: key, Action: "would add",
				Reason: "drift: an active engagement grants " + key + " but the user is not a member (removed by hand?)"})
		case slices.Contains(c.Granted, key):
			d.settle[contractor] = true // drift: settled with the group marked missing
			d.missing[contractor] = append(d.missing[contractor], key)
		default:
			d.settle[contractor] = true // a start the tick has not reached yet
		}
	}
	removed := s.apply(ctx, gid, remove, dryRun, sum, s.Directory.RemoveMembers, func() { sum.Removed++ })
	// A ghost's first sighting goes only once it is really gone: one whose
	// removal failed keeps its grace, and the next run tries again.
	for _, uid := range removed {
		mark := ghostPrefix + gid + "/" + uid
		if _, ok := marks[mark]; ok {
			if err := s.Ledger.DeleteMark(ctx, mark); err != nil {
				return err
			}
			delete(seen, mark)
		}
	}
	return nil
}

// apply carries out a bulk write (unless dryRun), notes each account, and
// returns the user ids it succeeded for.
func (s *Sweeper) apply(ctx context.Context, gid string, accounts []Account, dryRun bool, sum *Summary, write func(context.Context, string, []string) error, done func()) []string {
	if len(accounts) == 0 {
		return nil
	}
	if dryRun {
		for _, a := range accounts {
			a.Action = "would " + a.Action
			sum.note(a)
		}
		return nil
	}
	ids := make([]string, len(accounts))
	for i, a := range accounts {
		ids[i] = a.UserID
	}
	err := write(ctx, gid, ids)
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
	var succeeded []string
	for _, a := range accounts {
		if ferr, ok := failed[a.UserID]; ok {
			sum.Errors++
			a.Action, a.Reason = "failed", a.Reason+"; "+ferr.Error()
			s.Log.WarnContext(ctx, "sweep: write failed", "user", a.UserID, "group", a.Group, "code", string(fault.CodeOf(ferr)), "error", ferr.Error())
		} else {
			a.Action = map[string]string{"remove": "removed", "add": "added"}[a.Action]
			done()
			succeeded = append(succeeded, a.UserID)
		}
		sum.note(a)
	}
	return succeeded
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
