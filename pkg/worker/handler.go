// Package worker applies engagement events: it folds each into the ledger
// and makes Entra match, through small typed handlers that transports (SQS
// behind Lambda, the embedded queue) adapt their messages to.
//
// One event is handled as: read the engagement, merge the event (pure
// rules), plan the contractor's access over all their engagements, carry the
// plan out in the directory (idempotent operations), then record the new
// state, then append the audit trail. The directory goes first: if recording
// fails, the redelivered event finds the directory already right and the
// operations succeed again without effect. A ledger conflict (the tick or
// the reconciler wrote meanwhile) restarts the event from the top.
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
}

// Result says what handling an event did.
type Result struct {
	Outcome engagement.Outcome
	Plan    engagement.Plan
	// Writes are the Graph request-ids of the directory writes.
	Writes []string
}

// HandleEvent applies one event. Its error carries a fault code: Invalid
// for an event that can never apply, Transient for one to retry later.
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
	now := h.Now()
	rec, err := h.Ledger.Engagement(ctx, ev.Data.EngagementID)
	if err != nil && !fault.Is(err, fault.NotFound) {
		return Result{}, err
	}
	next, outcome, err := engagement.Merge(rec, ev, now, h.Settings.Options)
	if err != nil {
		h.audit(ctx, ev, engagement.AuditEntry{Action: "event.refused", Detail: err.Error()})
		return Result{}, err
	}
	if outcome == engagement.Duplicate {
		h.audit(ctx, ev, engagement.AuditEntry{Action: "event.duplicate", Detail: "already applied; nothing done"})
		return Result{Outcome: outcome}, nil
	}
	engs, err := h.Ledger.ContractorEngagements(ctx, next.Contractor)
	if err != nil {
		return Result{}, err
	}
	s, err := h.settle(ctx, next.Contractor, replace(engs, next), now, memo, next.ID, ev.ID)
	if err != nil {
		if !errors.Is(err, errLedgerConflict) {
			entries := append([]engagement.AuditEntry{{Action: "event.failed", Detail: fmt.Sprintf(
				"%s; the directory is not done (%v); the desired state is recorded and will be retried", outcome, err)}}, s.Changes...)
			h.audit(ctx, ev, entries...)
		}
		return Result{Outcome: outcome, Plan: s.Plan}, err
	}
	stored, _ := find(s.Engagements, next.ID)
	detail := fmt.Sprintf("%s; now %s, %s..%s, access %v", outcome, stored.State, stamp(stored.StartsAt), stamp(stored.EndsAt), stored.Access)
	entries := append([]engagement.AuditEntry{{Action: "event." + string(outcome), Detail: detail}}, s.Changes...)
	h.audit(ctx, ev, entries...)
	return Result{Outcome: outcome, Plan: s.Plan}, nil
}

// Settlement is what settling a contractor did.
type Settlement struct {
	Plan engagement.Plan
	// Changes are the audit entries of the directory changes.
	Changes []engagement.AuditEntry
	// Engagements are the contractor's records as stored afterwards;
	// Moved lists those whose applied State changed (activated, expired).
	Engagements []engagement.Engagement
	Moved       []engagement.Engagement
}

// Settle brings one contractor's directory account in line with their
// engagements at now and records each engagement's new state: what the
// tick does for contractors with due engagements. actor names who acted in
// the audit trail (e.g. "stint:tick").
func (h *Handler) Settle(ctx context.Context, contractor, actor string) (Settlement, error) {
	memo := &memory{}
	var s Settlement
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		var engs []engagement.Engagement
		if engs, err = h.Ledger.ContractorEngagements(ctx, contractor); err != nil {
			return s, err
		}
		s, err = h.settle(ctx, contractor, engs, h.Now(), memo, "", "")
		if !errors.Is(err, errLedgerConflict) {
			break
		}
	}
	if err != nil || (len(s.Changes) == 0 && len(s.Moved) == 0) {
		return s, err
	}
	now := h.Now()
	entries := slices.Clone(s.Changes)
	for _, e := range s.Moved {
		entries = append(entries, engagement.AuditEntry{Engagement: e.ID, Action: "engagement." + string(e.State),
			Detail: fmt.Sprintf("%s at %s (%s..%s)", e.State, now.UTC().Format(time.RFC3339), stamp(e.StartsAt), stamp(e.EndsAt))})
	}
	for i := range entries {
		entries[i].At, entries[i].Actor, entries[i].Contractor = now, actor, contractor
	}
	if err := h.Ledger.Append(ctx, entries...); err != nil {
		h.Log.ErrorContext(ctx, "worker: audit trail not written", "contractor", contractor, "error", err.Error())
	}
	return s, nil
}

// settle plans over all the contractor's engagements, carries the plan out,
// and stores the contractor, the engagement dirty (changed by the event
// eventID; "" for none) and every engagement whose applied State changed. A
// lost optimistic write returns errLedgerConflict.
//
// The contractor record is written on every settle, even with nothing to
// do, so that two settles of one contractor (the tick and an event) are
// serialised by its version: the loser starts again from fresh records
// rather than acting on a stale list of engagements.
func (h *Handler) settle(ctx context.Context, contractor string, engs []engagement.Engagement, now time.Time, memo *memory, dirty, eventID string) (Settlement, error) {
	c, err := h.Ledger.Contractor(ctx, contractor)
	if fault.Is(err, fault.NotFound) {
		c, err = engagement.Contractor{Key: contractor}, nil
	}
	if err != nil {
		return Settlement{}, err
	}
	s := Settlement{Plan: engagement.PlanAccess(c, engs, now)}
	c, s.Changes, err = h.enforce(ctx, c, profile(engs), s.Plan, memo)
	if err != nil {
		h.saveProgress(ctx, c, engs, dirty, eventID)
		return s, err
	}
	if _, err := h.Ledger.PutContractor(ctx, c); err != nil {
		return s, conflictOr(err)
	}
	for _, e := range engs {
		status := e.StatusAt(now)
		if e.ID != dirty && status == e.State {
			s.Engagements = append(s.Engagements, e)
			continue
		}
		moved := status != e.State
		e.State = status
		stored, err := h.Ledger.PutEngagement(ctx, e)
		if err != nil {
			return s, conflictOr(err)
		}
		if moved {
			s.Moved = append(s.Moved, stored)
		}
		s.Engagements = append(s.Engagements, stored)
	}
	return s, nil
}

// saveProgress records what is known when the directory could not be
// brought in line: the contractor as far as it got (a user invited, groups
// added or removed), and the event's engagement with its new dates but its
// applied State unchanged. The tick then sees the transition as due and
// retries it, and a reconcile never restores access the event took away.
// The event id is not marked seen, so a redelivery or a replay from the
// dead letters runs the event again. Best effort: a write that fails here
// leaves the records as they were, which is safe, only slower to converge.
func (h *Handler) saveProgress(ctx context.Context, c engagement.Contractor, engs []engagement.Engagement, dirty, eventID string) {
	if _, err := h.Ledger.PutContractor(ctx, c); err != nil {
		h.Log.WarnContext(ctx, "worker: partial progress not recorded", "contractor", c.Key, "error", err.Error())
	}
	if e, ok := find(engs, dirty); ok && eventID != "" {
		e.EventIDs = slices.DeleteFunc(slices.Clone(e.EventIDs), func(id string) bool { return id == eventID })
		if _, err := h.Ledger.PutEngagement(ctx, e); err != nil {
			h.Log.WarnContext(ctx, "worker: desired state not recorded", "engagement", e.ID, "error", err.Error())
		}
	}
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
		if e.ID == id {
			return e, true
		}
	}
	return engagement.Engagement{}, false
}

func conflictOr(err error) error {
	if fault.Is(err, fault.Conflict) {
		return errLedgerConflict
	}
	return err
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

func (h *Handler) audit(ctx context.Context, ev event.Event, entries ...engagement.AuditEntry) {
	now := h.Now()
	for i := range entries {
		entries[i].At, entries[i].EventID, entries[i].Actor = now, ev.ID, ev.Source
		entries[i].Contractor, entries[i].Engagement = ev.ContractorKey(), ev.Data.EngagementID
	}
	if err := h.Ledger.Append(ctx, entries...); err != nil {
		// The state is recorded; only its explanation is missing. Say so
		// loudly rather than fail an event whose effects are done.
		h.Log.ErrorContext(ctx, "worker: audit trail not written", "event_id", ev.ID, "error", err.Error())
	}
}

// refusedUnparsed records a message that is not an event at all: the
// trail has no contractor to file it under, so it goes under "-".
func (h *Handler) refusedUnparsed(ctx context.Context, m engagement.Message, err error) {
	entry := engagement.AuditEntry{At: h.Now(), Contractor: "-", EventID: m.ID, Actor: "stint:worker", Action: "event.refused", Detail: err.Error()}
	if aerr := h.Ledger.Append(ctx, entry); aerr != nil {
		h.Log.ErrorContext(ctx, "worker: audit trail not written", "message", m.ID, "error", aerr.Error())
	}
	h.Log.WarnContext(ctx, "worker: event refused", "event_id", m.ID, "outcome", "refused", "code", string(fault.CodeOf(err)), "error", err.Error())
}

func (h *Handler) logResult(ctx context.Context, ev event.Event, res Result, err error) {
	attrs := []any{"event_id", ev.ID, "type", string(ev.Type), "engagement", ev.Data.EngagementID,
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
