// Package sweep is the timer half of stint: the tick (every minute)
// activates engagements whose start has come and expires those whose end
// has passed; the reconcile (hourly or daily) compares the members of every
// allow-listed group with the ledger and acts on what events missed.
//
// Both are safe to run concurrently with the worker and with themselves:
// ledger writes are optimistic (a lost race is redone from a fresh read)
// and directory writes are idempotent.
package sweep

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/policy"
	"github.com/stintdev/stint/pkg/worker"
)

// Input is the sweep function's event: {"mode":"tick"} or
// {"mode":"reconcile"}, with "dryRun": true to report without writing.
type Input struct {
	Mode   string `json:"mode"`
	DryRun bool   `json:"dryRun,omitempty"`
}

// Summary is the sweep function's answer, also written to the audit trail
// and logged as one line.
type Summary struct {
	Mode      string `json:"mode"`
	DryRun    bool   `json:"dryRun"`
	Examined  int    `json:"examined"`
	Activated int    `json:"activated"`
	Expired   int    `json:"expired"`
	Added     int    `json:"added"`
	Removed   int    `json:"removed"`
	Disabled  int    `json:"disabled"`
	Flagged   int    `json:"flagged"`
	// Ghosts counts the memberships the reconcile found that no active
	// engagement justifies: flagged within their grace, or removed.
	Ghosts int `json:"ghosts"`
	Errors int `json:"errors"`
	// Complete is false when the run stopped at its time limit; the next
	// run resumes where it stopped.
	Complete bool `json:"complete"`
	// Skipped is set when another run of the same mode held the lease:
	// this one did nothing.
	Skipped bool `json:"skipped,omitempty"`
	// Accounts names every account acted on or flagged, with the reason;
	// at most MaxListed, the rest counted in AccountsOmitted.
	Accounts        []Account `json:"accounts"`
	AccountsOmitted int       `json:"accountsOmitted,omitempty"`
	// PolicyDrift lists stint's Conditional Access policies the reconcile
	// found changed or deleted by hand (repaired when Repaired is set);
	// Policies says why it could not look, when it could not.
	PolicyDrift []policy.Change `json:"policyDrift,omitempty"`
	Repaired    bool            `json:"repaired,omitempty"`
	Policies    string          `json:"policies,omitempty"`
	// Dormant counts the engaged contractors with no sign-in for
	// STINT_DORMANT_AFTER; SignedInAfterEnd the successful sign-ins after
	// an engagement ended (critical), RefusedAfterEnd the refused ones;
	// SignIns says why sign-ins are unknown, when they are.
	Dormant          int     `json:"dormant,omitempty"`
	SignedInAfterEnd int     `json:"signedInAfterEnd,omitempty"`
	RefusedAfterEnd  int     `json:"refusedAfterEnd,omitempty"`
	SignIns          string  `json:"signIns,omitempty"`
	Seconds          float64 `json:"seconds"`
}

// Account is one account the sweep acted on or flagged.
type Account struct {
	UserID     string `json:"userId,omitempty"`
	Contractor string `json:"contractor,omitempty"`
	Group      string `json:"group,omitempty"`
	// Action: activated, expired, added, removed, disabled, flagged, or
	// "would …" in a dry run, or failed.
	Action string `json:"action"`
	Reason string `json:"reason"`
}

// detail says what the account line is about, naming only what is known.
func (a Account) detail() string {
	var about []string
	if a.UserID != "" {
		about = append(about, "user "+a.UserID)
	}
	if a.Group != "" {
		about = append(about, "group "+a.Group)
	}
	if len(about) == 0 {
		return a.Reason
	}
	return strings.Join(about, ", ") + ": " + a.Reason
}

// MaxListed bounds the accounts a summary names.
const MaxListed = 1000

func (s *Summary) note(a Account) {
	if len(s.Accounts) < MaxListed {
		s.Accounts = append(s.Accounts, a)
	} else {
		s.AccountsOmitted++
	}
}

// Sweeper runs the tick and the reconcile.
type Sweeper struct {
	Ledger    engagement.Ledger
	Directory engagement.Directory
	// Worker settles contractors with the same rules the event handlers use.
	Worker *worker.Handler
	// Groups is the allow-list: access key to group object id.
	Groups map[string]string
	// GhostGrace is how long a member no engagement justifies may stay
	// before removal (STINT_GHOST_GRACE, default 24 h).
	GhostGrace time.Duration
	// ReportGhosts leaves ghosts in place, only flagging them
	// (STINT_GHOST_ACTION=report).
	ReportGhosts bool
	// UnredeemedAfter flags guests whose invitation is still pending after
	// this long (STINT_UNREDEEMED_AFTER, default 30 days).
	UnredeemedAfter time.Duration
	// Margin is kept free before the context's deadline to save a
	// checkpoint (default 20 s).
	Margin time.Duration
	// Parallel is how many contractors the tick settles at once (default
	// DefaultParallel).
	Parallel int
	// Page is how many due records a tick reads (default 500); the rest
	// wait for the next tick.
	Page int
	// ProgressEvery is how often a long run logs its progress (default 10 s).
	ProgressEvery time.Duration
	// Policies, when set, has the reconcile compare stint's Conditional
	// Access policies with the desired ones (drift); RepairPolicies puts
	// them back (STINT_POLICY_DRIFT=repair). When nil, PoliciesOff says
	// why, once, in the log and in each reconcile's summary.
	Policies       *policy.Manager
	RepairPolicies bool
	PoliciesOff    string
	// Oversight watches sign-ins and sends notifications (oversight.go).
	Oversight Oversight
	Log       *slog.Logger
	Now       func() time.Time

	policyNote sync.Once
	signInNote sync.Once
}

// Run dispatches on the mode.
func (s *Sweeper) Run(ctx context.Context, in Input) (Summary, error) {
	start := time.Now()
	if deadline, ok := ctx.Deadline(); ok {
		budget := time.Until(deadline)
		if budget < MinBudget {
			return Summary{Mode: in.Mode, DryRun: in.DryRun}, fault.Errorf(fault.Invalid,
				"sweep: %s: the invocation has %s left, too little to settle anyone (at least %s): raise the sweep function's timeout (60 s for the tick, 15 minutes for the reconcile)",
				in.Mode, budget.Round(time.Millisecond), MinBudget)
		}
		ctx = context.WithValue(ctx, budgetKey{}, budget)
	}
	if in.Mode != "tick" && in.Mode != "reconcile" {
		return Summary{}, fmt.Errorf(`sweep: mode %q: want {"mode":"tick"} or {"mode":"reconcile"}`, in.Mode)
	}
	if !in.DryRun {
		var release func()
		var held bool
		var err error
		if ctx, release, held, err = s.holdLease(ctx, in.Mode); err != nil {
			return Summary{Mode: in.Mode}, err
		}
		defer release()
		if !held {
			s.Log.InfoContext(ctx, "sweep: another run holds the lease; nothing done", "mode", in.Mode)
			return Summary{Mode: in.Mode, Skipped: true, Accounts: []Account{}}, nil
		}
	}
	var sum Summary
	var err error
	if in.Mode == "tick" {
		sum, err = s.Tick(ctx, in.DryRun)
	} else {
		sum, err = s.Reconcile(ctx, in.DryRun)
	}
	sum.Seconds = time.Since(start).Seconds()
	if sum.Accounts == nil {
		sum.Accounts = []Account{} // "accounts": [] for the function's callers
	}
	if in.DryRun {
		// A dry run writes nothing, the audit trail included: its summary
		// is the answer and the log line.
		s.Log.InfoContext(ctx, "sweep: dry run", "mode", sum.Mode, "summary", sum)
		return sum, err
	}
	s.record(ctx, sum)
	s.send(ctx, in.Mode)
	return sum, err
}

// record writes the summary to the audit trail (one entry per account
// acted on, one for the run) and logs it as one line. A run that found
// nothing to do and nothing wrong leaves no audit entry — the common
// minute's tick would otherwise add half a million a year — only its log
// line.
func (s *Sweeper) record(ctx context.Context, sum Summary) {
	quiet := sum.Examined == 0 && sum.Errors == 0 && sum.Complete && len(sum.Accounts) == 0
	actor := "stint:" + sum.Mode
	now := s.Now()
	var entries []engagement.AuditEntry
	for _, a := range sum.Accounts {
		who := a.Contractor
		if who == "" {
			who = "-"
		}
		entries = append(entries, engagement.AuditEntry{At: now, Contractor: who, Actor: actor, Action: engagement.SweepAction(a.Action), Detail: a.detail()})
	}
	entries = append(entries, engagement.AuditEntry{At: now, Contractor: "-", Actor: actor, Action: engagement.SweepSummary,
		Detail: fmt.Sprintf("dryRun=%v examined=%d activated=%d expired=%d added=%d removed=%d disabled=%d flagged=%d errors=%d complete=%v",
			sum.DryRun, sum.Examined, sum.Activated, sum.Expired, sum.Added, sum.Removed, sum.Disabled, sum.Flagged, sum.Errors, sum.Complete)})
	if !quiet {
		if err := s.Ledger.Append(ctx, entries...); err != nil {
			s.Log.ErrorContext(ctx, "sweep: audit trail not written", "error", err.Error())
		}
	}
	s.Log.InfoContext(ctx, "sweep: done", "mode", sum.Mode, "dry_run", sum.DryRun, "examined", sum.Examined,
		"activated", sum.Activated, "expired", sum.Expired, "added", sum.Added, "removed", sum.Removed,
		"disabled", sum.Disabled, "flagged", sum.Flagged, "ghosts", sum.Ghosts, "errors", sum.Errors, "complete", sum.Complete,
		"seconds", sum.Seconds, "accounts", sum.Accounts)
}

// timeLeft reports whether the run may go on: false once the context's
// deadline is within the margin.
//
// The margin is Margin (20 s by default), or a quarter of the run's whole
// time when that is shorter: a function given 20 s still settles for 15.
func (s *Sweeper) timeLeft(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	if !ok {
		return true
	}
	margin := cmp.Or(s.Margin, 20*time.Second)
	if budget, ok := ctx.Value(budgetKey{}).(time.Duration); ok {
		margin = min(margin, budget/4)
	}
	return time.Until(deadline) > margin
}

// MinBudget is the least time a sweep must be given.
const MinBudget = 2 * time.Second

// budgetKey holds, in a run's context, the time it had when it started.
type budgetKey struct{}
