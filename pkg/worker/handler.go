// Package worker applies engagement events: it folds each into the ledger
// and makes Entra match, through small typed handlers that transports (SQS
// behind Lambda, the embedded queue) adapt their messages to.
//
// One event is handled as: read the contractor (which also finishes a
// commit a crash interrupted), refuse or skip an event already handled,
// read the engagement, merge the event (pure rules), plan the contractor's
// access over all their engagements, carry the plan out in the directory
// (idempotent operations), then commit: the contractor, the engagements
// whose applied state changed, the note that the event was handled, and the
// audit entries that explain it, in one Ledger.Commit — all or nothing. A
// crash before the commit leaves nothing recorded, and the redelivered event
// does it all again (the directory operations succeed without effect); a
// crash after it leaves everything recorded, and the redelivery is a
// duplicate. Either way each applied event has its audit entries exactly
// once. A lost optimistic commit (the tick or the reconcile settled the
// contractor meanwhile) restarts the event from the top.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/requestlog"
)

// maxAttempts bounds restarts after ledger conflicts.
const maxAttempts = 5

// Settings are what the handlers need from the configuration.
type Settings struct {
	// Groups is the allow-list: access key to group object id.
	Groups map[string]string
	// Options carries the default access and the allowed keys.
	Options engagement.Options
	// SendInvitation and RedirectURL shape invitations.
	SendInvitation bool
	RedirectURL    string
}

// Handler applies events and due transitions.
type Handler struct {
	Ledger    engagement.Ledger
	Directory engagement.Directory
	Settings  Settings
	Log       *slog.Logger
	Now       func() time.Time
	// ClaimWait is how long an event waits for another settle of its
	// contractor to finish before it fails transiently (default
	// DefaultClaimWait; negative: not at all).
	ClaimWait time.Duration
	// Observe, when set, is told what became of each message Process
	// handles (see observe) — for metrics (pkg/metrics), without this
	// package linking them.
	Observe func(outcome string)
}

func (h *Handler) claimWait() time.Duration {
	if h.ClaimWait == 0 {
		return DefaultClaimWait
	}
	return max(h.ClaimWait, 0)
}

// Result says what handling an event did.
type Result struct {
	Outcome engagement.Outcome
	Plan    engagement.Plan
	// Writes are the Graph request-ids of the directory writes.
	Writes []string
}

// HandleEvent applies one event. Its error carries a fault code: Invalid
// for an event that can never apply, Conflict for an id reused by another
// event, Transient for one to retry later.
func (h *Handler) HandleEvent(ctx context.Context, ev event.Event) (Result, error) {
	ctx, writes := requestlog.New(ctx)
	var res Result
	var err error
	memo := &memory{}
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		res, err = h.apply(ctx, ev, memo)
		if !errors.Is(err, errLedgerConflict) {
			break
		}
	}
	res.Writes = writes.IDs()
	h.logResult(ctx, ev, res, err)
	return res, err
}

// errLedgerConflict marks a lost optimistic write: start over.
var errLedgerConflict = errors.New("ledger conflict")

// memory carries what the directory told us across restarts: whether stint
// itself switched the account off cannot be asked twice.
type memory struct {
	disabledByStint bool
}

func (h *Handler) apply(ctx context.Context, ev event.Event, memo *memory) (Result, error) {
	cl, err := h.claim(ctx, ev.ContractorKey(), h.claimWait())
	if err != nil {
		return Result{}, err
	}
	now := h.Now()
	if res, done, err := h.handled(ctx, ev); done {
		h.release(ctx, cl)
		return res, err
	}
	rec, err := h.Ledger.Engagement(ctx, ev.Data.EngagementID)
	if err != nil && !fault.Is(err, fault.NotFound) {
		h.release(ctx, cl)
		return Result{}, err
	}
	next, outcome, err := engagement.Merge(rec, ev, now, h.Settings.Options)
	if err != nil {
		h.audit(ctx, ev, engagement.AuditEntry{Action: engagement.EventRefused, Detail: err.Error()})
		h.release(ctx, cl)
		return Result{}, err
	}
	engs, err := h.Ledger.ContractorEngagements(ctx, cl.c.Key)
	if err != nil {
		h.release(ctx, cl)
		return Result{}, err
	}
	s, err := h.settle(ctx, cl, replace(engs, next), now, memo, forEvent(ev, outcome))
	return Result{Outcome: outcome, Plan: s.Plan}, err
}

// handled answers an event handled before: the same event again is a
// duplicate, a no-op; another event reusing its id is refused, since
// CloudEvents ids are unique per source.
func (h *Handler) handled(ctx context.Context, ev event.Event) (Result, bool, error) {
	seen, err := h.Ledger.Seen(ctx, ev.Key())
	switch {
	case fault.Is(err, fault.NotFound):
		return Result{}, false, nil
	case err != nil:
		return Result{}, true, err
	case seen.Digest != "" && seen.Digest != ev.Digest():
		err := fault.Errorf(fault.Conflict, "event %s from %s: this id was handled before (%s) for an event that said something else; ids are unique per source: send a new event with a new id",
			ev.ID, ev.Source, seen.At.UTC().Format(time.RFC3339))
		h.audit(ctx, ev, engagement.AuditEntry{Action: engagement.EventRefused, Detail: err.Error()})
		return Result{}, true, err
	}
	h.audit(ctx, ev, engagement.AuditEntry{Action: engagement.EventDuplicate, Detail: fmt.Sprintf("already handled at %s (%s); nothing done", seen.At.UTC().Format(time.RFC3339), seen.Outcome)})
	return Result{Outcome: engagement.Duplicate}, true, nil
}

// contractor reads what stint applied for a contractor (a fresh record
// when there is none yet).
func (h *Handler) contractor(ctx context.Context, key string) (engagement.Contractor, error) {
	c, err := h.Ledger.Contractor(ctx, key)
	if fault.Is(err, fault.NotFound) {
		return engagement.Contractor{Key: key}, nil
	}
	return c, err
}

// Settlement is what settling a contractor did.
type Settlement struct {
	Plan engagement.Plan
	// Contractor is the contractor's record as stored afterwards.
	Contractor engagement.Contractor
	// Changes are the audit entries of the directory changes.
	Changes []engagement.AuditEntry
	// Engagements are the contractor's records as stored afterwards;
	// Moved lists those whose applied State changed (activated, expired).
	Engagements []engagement.Engagement
	Moved       []engagement.Engagement
}

// Found is what the reconcile found of a contractor's groups in Entra:
// access keys stint granted whose group no longer holds the user (removed
// by hand), and keys whose group holds the user though stint did not grant
// them (added by hand). Settling takes them into account, judged from the
// records as they are then, not as the reconcile read them.
type Found struct {
	Missing []string
	Present []string
}

// Settle brings one contractor's directory account in line with their
// engagements at now and records each engagement's new state: what the
// tick does for contractors with due engagements. actor names who acted in
// the audit trail (e.g. "stint:tick"). It does not wait for another settle
// of the contractor: then it fails at once with an error IsBusy reports.
func (h *Handler) Settle(ctx context.Context, contractor, actor string, found Found) (Settlement, error) {
	memo := &memory{}
	var s Settlement
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		var cl claim
		if cl, err = h.claim(ctx, contractor, 0); err != nil {
			return s, err
		}
		var engs []engagement.Engagement
		if engs, err = h.Ledger.ContractorEngagements(ctx, contractor); err != nil {
			h.release(ctx, cl)
			return s, err
		}
		granted := slices.DeleteFunc(slices.Clone(cl.c.Granted), func(k string) bool { return slices.Contains(found.Missing, k) })
		cl.c.Granted = append(granted, found.Present...)
		s, err = h.settle(ctx, cl, engs, h.Now(), memo, forActor(actor))
		if !errors.Is(err, errLedgerConflict) {
			break
		}
	}
	return s, err
}

// settle plans over all the contractor's engagements, carries the plan out
// in the directory, and commits what it did with why, releasing the claim.
//
// When the directory is done, the commit stores every engagement whose
// applied State changed (and the event's, with its new dates), notes the
// event as handled, and explains it all. When the directory could not be
// brought in line, it stores what is known: the contractor as far as it got
// (a user invited, groups added or removed) and the event's engagement with
// its new dates but its applied State unchanged. The tick then sees the
// transition as due and retries it, a reconcile never restores access the
// event took away, and since the event is not noted as handled a
// redelivery, or a replay from the dead letters, runs it again.
func (h *Handler) settle(ctx context.Context, cl claim, engs []engagement.Engagement, now time.Time, memo *memory, o origin) (Settlement, error) {
	defer cl.cancel()
	c := cl.c
	var recovered []engagement.AuditEntry
	if cl.tookOver {
		var err error
		if c, recovered, err = h.takeOver(cl.ctx, c, profile(engs).Email); err != nil {
			// The claim is left to expire: the next settle takes over too.
			return Settlement{}, err
		}
	}
	s := Settlement{Plan: engagement.PlanAccess(c, h.configured(engs), now)}
	var err error
	c, s.Changes, err = h.enforce(cl.ctx, c, profile(engs), s.Plan, memo)
	s.Changes = append(recovered, s.Changes...)
	ch := engagement.Change{Contractor: unclaimed(c)}
	if err != nil {
		// Every engagement that needed this work — the event's, those due,
		// and every one not over, whose access the failed work was to make
		// right (an account to invite again, a group to put back) — is
		// retried by the tick, with a backoff: it leaves the due list until
		// then, so stuck ones never crowd out the rest.
		for _, e := range engs {
			if e.ID == o.dirty || e.StatusAt(now) != e.State || e.State != engagement.Ended || !e.RetryAt.IsZero() {
				e.Failures++
				e.RetryAt = now.Add(Backoff(e.Failures))
				ch.Engagements = append(ch.Engagements, e)
			}
		}
		ch.Audit = o.entries(now, c.Key, o.failed(err), s.Changes, nil)
	} else {
		var changed []engagement.Engagement
		for _, e := range engs {
			status := e.StatusAt(now)
			if e.ID != o.dirty && status == e.State && e.RetryAt.IsZero() {
				continue
			}
			if status != e.State {
				e.State = status
				s.Moved = append(s.Moved, e)
			}
			e.RetryAt, e.Failures = time.Time{}, 0
			changed = append(changed, e)
		}
		ch.Engagements, ch.Seen = changed, o.seen(now)
		ch.Audit = o.entries(now, c.Key, o.done(changed), s.Changes, s.Moved)
	}
	var stored []engagement.Engagement
	var cerr error
	s.Contractor, stored, cerr = h.Ledger.Commit(ctx, ch)
	if cerr != nil {
		if fault.Is(cerr, fault.Conflict) {
			h.lost(ctx, o.entries(now, c.Key, nil, s.Changes, nil))
			return s, errLedgerConflict
		}
		return s, cerr
	}
	s.Engagements = merged(engs, stored)
	return s, err
}

// lost records the directory changes of a settle whose claim expired
// before its commit (it overran its time): what it did in Entra happened,
// and the settle that took over planned from Entra as it found it.
func (h *Handler) lost(ctx context.Context, changes []engagement.AuditEntry) {
	if len(changes) == 0 {
		return
	}
	for i := range changes {
		changes[i].Detail += " (by a settle that overran its claim; the one that took over re-planned)"
	}
	if err := h.Ledger.Append(ctx, changes...); err != nil {
		h.Log.ErrorContext(ctx, "worker: audit trail not written", "contractor", changes[0].Contractor, "error", err.Error())
	}
}

// Backoff is how long the tick waits before retrying an engagement whose
// settle failed for the n-th time in a row: a minute, doubling, at most an
// hour — so one that cannot be settled (a permission missing, an account
// Graph refuses to block) costs a try an hour, not one a minute.
func Backoff(n int) time.Duration {
	return min(time.Minute<<min(max(n-1, 0), 6), time.Hour)
}

// configured is engs with only the access keys the allow-list still has: a
// key retired from STINT_GROUPS after an engagement was recorded is not
// granted (stint may no longer touch its group), and does not stop the
// contractor's other groups.
func (h *Handler) configured(engs []engagement.Engagement) []engagement.Engagement {
	out := make([]engagement.Engagement, len(engs))
	for i, e := range engs {
		e.Access = slices.DeleteFunc(slices.Clone(e.Access), func(k string) bool { _, ok := h.Settings.Groups[k]; return !ok })
		out[i] = e
	}
	return out
}

// merged returns engs with the stored versions of those a commit wrote.
func merged(engs, stored []engagement.Engagement) []engagement.Engagement {
	out := make([]engagement.Engagement, 0, len(engs))
	for _, e := range engs {
		if w, ok := find(stored, e.ID); ok {
			e = w
		}
		out = append(out, e)
	}
	return out
}

// profile is the engagement whose contact details an invitation uses: the
// one whose details were set most recently.
func profile(engs []engagement.Engagement) engagement.Engagement {
	var p engagement.Engagement
	for _, e := range engs {
		if p.ID == "" || e.ProfileSetBy.After(p.ProfileSetBy) {
			p = e
		}
	}
	return p
}

func find(engs []engagement.Engagement, id string) (engagement.Engagement, bool) {
	for _, e := range engs {
		if id != "" && e.ID == id {
			return e, true
		}
	}
	return engagement.Engagement{}, false
}

// replace puts next in place of its stored version, or adds it.
func replace(engs []engagement.Engagement, next engagement.Engagement) []engagement.Engagement {
	for i := range engs {
		if engs[i].ID == next.ID {
			engs[i] = next
			return engs
		}
	}
	return append(engs, next)
}

// audit appends entries about an event outside a settle (refused,
// duplicate): they change no record.
func (h *Handler) audit(ctx context.Context, ev event.Event, entries ...engagement.AuditEntry) {
	now := h.Now()
	for i := range entries {
		entries[i].At, entries[i].EventID, entries[i].Actor = now, ev.ID, ev.Source
		entries[i].Contractor, entries[i].Engagement = ev.ContractorKey(), ev.Data.EngagementID
	}
	if err := h.Ledger.Append(ctx, entries...); err != nil {
		// Nothing was recorded that these entries explain; say so loudly
		// rather than fail the event for it.
		h.Log.ErrorContext(ctx, "worker: audit trail not written", "event_id", ev.ID, "error", err.Error())
	}
}

// refusedUnparsed records a message that is not an event at all: the
// trail has no contractor to file it under, so it goes under "-".
func (h *Handler) refusedUnparsed(ctx context.Context, m engagement.Message, err error) {
	entry := engagement.AuditEntry{At: h.Now(), Contractor: "-", EventID: m.ID, Actor: "stint:worker", Action: engagement.EventRefused, Detail: err.Error()}
	if aerr := h.Ledger.Append(ctx, entry); aerr != nil {
		h.Log.ErrorContext(ctx, "worker: audit trail not written", "message", m.ID, "error", aerr.Error())
	}
	h.Log.WarnContext(ctx, "worker: event refused", "event_id", m.ID, "outcome", "refused", "code", string(fault.CodeOf(err)), "error", err.Error())
}

func (h *Handler) logResult(ctx context.Context, ev event.Event, res Result, err error) {
	attrs := []any{"event_id", ev.ID, "source", ev.Source, "type", string(ev.Type), "engagement", ev.Data.EngagementID,
		"contractor", ev.ContractorKey(), "graph_writes", res.Writes}
	switch {
	case err != nil:
		h.Log.WarnContext(ctx, "worker: event failed", append(attrs, "outcome", "failed", "code", string(fault.CodeOf(err)), "error", err.Error())...)
	default:
		h.Log.InfoContext(ctx, "worker: event handled", append(attrs, "outcome", string(res.Outcome),
			"added", res.Plan.Add, "removed", res.Plan.Remove, "blocked", res.Plan.Block, "unblocked", res.Plan.Unblock)...)
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.UTC().Format(time.RFC3339)
}
