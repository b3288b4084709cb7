package worker

import (
	"fmt"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
)

// origin is what a settle is for: an event (with what merging it did), or
// an actor acting on its own (the tick, the reconcile). It writes the
// settle's audit entries and its note that the event was handled.
type origin struct {
	ev      *event.Event
	outcome engagement.Outcome
	actor   string
	// dirty is the engagement the event changed ("" for none).
	dirty string
}

func forEvent(ev event.Event, outcome engagement.Outcome) origin {
	return origin{ev: &ev, outcome: outcome, actor: ev.Source, dirty: ev.Data.EngagementID}
}

func forActor(actor string) origin { return origin{actor: actor} }

// failed says that the event's directory work is not done.
func (o origin) failed(err error) []engagement.AuditEntry {
	if o.ev == nil {
		return nil // the tick's and the reconcile's summaries name it
	}
	return []engagement.AuditEntry{{Action: engagement.EventFailed, Detail: fmt.Sprintf(
		"%s; the directory is not done (%v); the desired state is recorded and will be retried", o.outcome, err)}}
}

// done says what the event did to its engagement, as now stored.
func (o origin) done(changed []engagement.Engagement) []engagement.AuditEntry {
	if o.ev == nil {
		return nil
	}
	e, _ := find(changed, o.dirty)
	return []engagement.AuditEntry{{Action: engagement.EventAction(o.outcome),
		Detail: fmt.Sprintf("%s; now %s, %s..%s, access %v", o.outcome, e.State, stamp(e.StartsAt), stamp(e.EndsAt), e.Access)}}
}

// seen notes the event as handled.
func (o origin) seen(now time.Time) []engagement.SeenEvent {
	if o.ev == nil {
		return nil
	}
	return []engagement.SeenEvent{{Key: o.ev.Key(), Digest: o.ev.Digest(), Engagement: o.dirty, Outcome: o.outcome, At: now}}
}

// entries puts a settle's audit entries together: head (what the event
// did), the directory changes, and one entry per engagement whose applied
// state moved other than the event's own; each says when, who and for whom.
func (o origin) entries(now time.Time, contractor string, head, changes []engagement.AuditEntry, moved []engagement.Engagement) []engagement.AuditEntry {
	out := append(append([]engagement.AuditEntry{}, head...), changes...)
	for _, e := range moved {
		if e.ID == o.dirty {
			continue
		}
		at := e.StartsAt
		if e.State == engagement.Ended {
			at = e.EndsAt
		}
		out = append(out, engagement.AuditEntry{Engagement: e.ID, Action: engagement.EngagementAction(e.State),
			Detail: fmt.Sprintf("%s since %s (%s..%s)", e.State, stamp(at), stamp(e.StartsAt), stamp(e.EndsAt))})
	}
	for i := range out {
		out[i].At, out[i].Actor, out[i].Contractor = now, o.actor, contractor
		if o.ev != nil {
			out[i].EventID = o.ev.ID
			if out[i].Engagement == "" {
				out[i].Engagement = o.dirty
			}
		}
	}
	return out
}
