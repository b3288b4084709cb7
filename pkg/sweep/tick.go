package sweep

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/worker"
)

// tickPage is how many due records one ledger query returns.
const tickPage = 500

// DefaultParallel is how many contractors the tick settles at once: each
// settle waits mostly on Graph, and eight keep a burst of ends well inside
// Graph's write budget (20 writes a second per app and tenant) while not
// waiting on one another's round trips.
const DefaultParallel = 8

// Tick settles every contractor with a due engagement: a start that has
// come (add to groups, re-enable what stint disabled), an end that has
// passed (remove; block a guest with nothing left, revoke a member's
// sessions), or a retry after a failed settle. Its work is driven by the
// ledger's due index, so quiet engagements cost it nothing; an engagement
// whose settle failed leaves the index until its retry time (doubling from
// a minute to an hour), so stuck ones never crowd out the rest. A
// contractor another settle holds is left to that settle.
func (s *Sweeper) Tick(ctx context.Context, dryRun bool) (Summary, error) {
	sum := Summary{Mode: "tick", DryRun: dryRun, Complete: true}
	now := s.Now()
	page := cmp.Or(s.Page, tickPage)
	seen := map[string]bool{}
	for {
		due, err := s.Ledger.Due(ctx, now, page)
		if err != nil {
			return sum, err
		}
		var contractors []string
		for _, e := range due {
			if !seen[e.Contractor] {
				seen[e.Contractor] = true
				contractors = append(contractors, e.Contractor)
			}
		}
		sum.Examined += len(contractors)
		if dryRun {
			for _, c := range contractors {
				s.previewTick(ctx, c, now, &sum)
			}
			sum.Complete = len(due) < page
			return sum, nil
		}
		if err := s.settleAll(ctx, contractors, now, &sum); err != nil {
			return sum, err
		}
		// A full page may hide more due work behind it: read on while
		// there is time, and new contractors come up (settled records
		// leave the due list; one being settled elsewhere stays, seen).
		if len(due) < page || len(contractors) == 0 {
			return sum, nil
		}
		if !s.timeLeft(ctx) {
			sum.Complete = false
			return sum, nil
		}
	}
}

// settleAll settles contractors, DefaultParallel at a time, into sum.
func (s *Sweeper) settleAll(ctx context.Context, contractors []string, now time.Time, sum *Summary) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, cmp.Or(s.Parallel, DefaultParallel))
	for i, contractor := range contractors {
		if !s.timeLeft(ctx) {
			sum.Complete = false
			if i == 0 && sum.Activated+sum.Expired+sum.Errors == 0 {
				return fault.Errorf(fault.Invalid, "sweep: tick: %d contractors are due and the invocation's time ran out before the first: raise the sweep function's timeout (60 s for the tick)", len(contractors))
			}
			break
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			settled, err := s.Worker.Settle(ctx, contractor, "stint:tick", worker.Found{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case worker.IsBusy(err):
				// Another settle holds it, and applies its due transition.
			case err != nil:
				sum.Errors++
				sum.note(Account{Contractor: contractor, Action: "failed", Reason: fmt.Sprintf("%v (tried again %s)", err, retryText(settled.Engagements, now))})
				s.Log.WarnContext(ctx, "sweep: tick could not settle a contractor", "contractor", contractor, "code", string(fault.CodeOf(err)), "error", err.Error())
			default:
				count(sum, contractor, settled.Plan, settled.Moved, "")
			}
		}()
	}
	wg.Wait()
	return nil
}

// retryText says when the tick tries a failed contractor again.
func retryText(engs []engagement.Engagement, now time.Time) string {
	var next time.Time
	for _, e := range engs {
		if e.RetryAt.After(now) && (next.IsZero() || e.RetryAt.Before(next)) {
			next = e.RetryAt
		}
	}
	if next.IsZero() {
		return "at the next tick"
	}
	return "after " + next.Sub(now).Round(time.Second).String()
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
