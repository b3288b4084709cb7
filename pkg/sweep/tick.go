package sweep

import (
	"context"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// tickPage is how many due records one ledger query returns.
const tickPage = 500

// Tick settles every contractor with a due engagement: a start that has
// come (add to groups, re-enable what stint disabled) or an end that has
// passed (remove; block a guest with nothing left, revoke a member's
// sessions). Its work is driven by the ledger's due index, so quiet
// engagements cost it nothing.
func (s *Sweeper) Tick(ctx context.Context, dryRun bool) (Summary, error) {
	sum := Summary{Mode: "tick", DryRun: dryRun, Complete: true}
	now := s.Now()
	var due []engagement.Engagement
	for _, query := range []func(context.Context, time.Time, int) ([]engagement.Engagement, error){s.Ledger.DueStarts, s.Ledger.DueEnds} {
		recs, err := query(ctx, now, tickPage)
		if err != nil {
			return sum, err
		}
		due = append(due, recs...)
		if len(recs) == tickPage {
			sum.Complete = false // more next minute
		}
	}
	sum.Examined = len(due)
	seen := map[string]bool{}
	for _, e := range due {
		if seen[e.Contractor] {
			continue
		}
		seen[e.Contractor] = true
		if !s.timeLeft(ctx) {
			sum.Complete = false
			break
		}
		if dryRun {
			s.previewTick(ctx, e.Contractor, now, &sum)
			continue
		}
		settled, err := s.Worker.Settle(ctx, e.Contractor, "stint:tick")
		if err != nil {
			sum.Errors++
			sum.note(Account{Contractor: e.Contractor, Action: "failed", Reason: err.Error()})
			s.Log.WarnContext(ctx, "sweep: tick could not settle a contractor", "contractor", e.Contractor, "code", string(fault.CodeOf(err)), "error", err.Error())
			continue
		}
		count(&sum, e.Contractor, settled.Plan, settled.Moved, "")
	}
	return sum, nil
}

// previewTick reports what settling would do, changing nothing.
func (s *Sweeper) previewTick(ctx context.Context, contractor string, now time.Time, sum *Summary) {
	c, err := s.Ledger.Contractor(ctx, contractor)
	if fault.Is(err, fault.NotFound) {
		c, err = engagement.Contractor{Key: contractor}, nil
	}
	engs, err2 := s.Ledger.ContractorEngagements(ctx, contractor)
	if err == nil {
		err = err2
	}
	if err != nil {
		sum.Errors++
		sum.note(Account{Contractor: contractor, Action: "failed", Reason: err.Error()})
		return
	}
	var moved []engagement.Engagement
	for _, e := range engs {
		if st := e.StatusAt(now); st != e.State {
			e.State = st
			moved = append(moved, e)
		}
	}
	count(sum, contractor, engagement.PlanAccess(c, engs, now), moved, "would ")
}

// count adds a settled (or previewed) contractor to the summary.
func count(sum *Summary, contractor string, plan engagement.Plan, moved []engagement.Engagement, would string) {
	for _, e := range moved {
		switch e.State {
		case engagement.Active:
			sum.Activated++
			sum.note(Account{Contractor: contractor, Action: would + "activate", Reason: "engagement " + e.ID + " started at " + stamp(e.StartsAt)})
		case engagement.Ended:
			sum.Expired++
			sum.note(Account{Contractor: contractor, Action: would + "expire", Reason: "engagement " + e.ID + " ended at " + stamp(e.EndsAt)})
		}
	}
	for _, key := range plan.Add {
		sum.Added++
		sum.note(Account{Contractor: contractor, Group: key, Action: would + "add", Reason: "an engagement granting " + key + " is active"})
	}
	for _, key := range plan.Remove {
		sum.Removed++
		sum.note(Account{Contractor: contractor, Group: key, Action: would + "remove", Reason: "no active engagement grants " + key})
	}
	if plan.Block {
		sum.Disabled++
		sum.note(Account{Contractor: contractor, Action: would + "block", Reason: "no engagement left"})
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
