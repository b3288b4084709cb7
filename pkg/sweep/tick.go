package sweep

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/worker"
)

// tickPage is how many due records one ledger query returns.
const tickPage = 500

// retryPrefix marks contractors the tick failed to settle, with the number
// of failures and when to try again: "3 2026-11-22T10:00:00Z". The wait
// doubles from a minute to an hour, so a contractor that cannot be settled
// (a permission missing, an account Graph refuses to block) costs one try
// an hour, not one a minute.
const retryPrefix = "tick/retry/"

func parseRetry(v string) (attempts int, next time.Time) {
	n, at, ok := strings.Cut(v, " ")
	if !ok {
		return 0, time.Time{}
	}
	attempts, _ = strconv.Atoi(n)
	next, _ = time.Parse(time.RFC3339, at)
	return attempts, next
}

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
	if len(due) == 0 {
		return sum, nil // the common minute: nothing due, nothing more read
	}
	retry, err := s.Ledger.Marks(ctx, retryPrefix)
	if err != nil {
		return sum, err
	}
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
		attempts, next := parseRetry(retry[retryPrefix+e.Contractor])
		if now.Before(next) {
			continue // failed recently: left alone until its backoff ends
		}
		settled, err := s.Worker.Settle(ctx, e.Contractor, "stint:tick", worker.Found{})
		if worker.IsBusy(err) {
			continue // another settle holds it, and applies its due transition
		}
		if err != nil {
			sum.Errors++
			wait := min(time.Minute<<min(attempts, 6), time.Hour)
			sum.note(Account{Contractor: e.Contractor, Action: "failed", Reason: fmt.Sprintf("%v (next try after %s)", err, wait)})
			s.Log.WarnContext(ctx, "sweep: tick could not settle a contractor", "contractor", e.Contractor, "code", string(fault.CodeOf(err)), "error", err.Error(), "retry_in", wait.String())
			if merr := s.Ledger.SetMark(ctx, retryPrefix+e.Contractor, fmt.Sprintf("%d %s", attempts+1, now.Add(wait).UTC().Format(time.RFC3339))); merr != nil {
				s.Log.WarnContext(ctx, "sweep: backoff not recorded", "contractor", e.Contractor, "error", merr.Error())
			}
			continue
		}
		if _, ok := retry[retryPrefix+e.Contractor]; ok {
			s.Ledger.DeleteMark(ctx, retryPrefix+e.Contractor)
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
