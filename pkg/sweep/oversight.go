package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/notify"
)

// Oversight is what the reconcile watches besides memberships, for the
// sponsors and the auditors: who has not signed in for long (dormant), who
// signed in after their engagement ended, which engagements end soon, and
// the notifications all of it — and the reconcile's own findings — send.
type Oversight struct {
	// SignIns reads sign-in activity (the Graph adapter, with
	// AuditLog.Read.All and Entra ID P1); nil, or an error from it, leaves
	// sign-ins unknown: nothing is flagged dormant then.
	SignIns SignInReader
	// DormantAfter flags an engaged contractor with no sign-in for this
	// long (STINT_DORMANT_AFTER); 0 turns the check off. DormantEnd ends
	// their engagements as well (STINT_DORMANT_ACTION=end).
	DormantAfter time.Duration
	DormantEnd   bool
	// VerifyWindow is how long after an engagement ends its contractor's
	// sign-ins are read (STINT_VERIFY_WINDOW); 0 turns the check off.
	VerifyWindow time.Duration
	// RemindBefore are the reminder thresholds (STINT_REMIND_BEFORE).
	RemindBefore []time.Duration
	// Outbox keeps the notifications, once each, and Sender sends them
	// (STINT_NOTIFY_URL) after every tick, under its lease. Nil: none are
	// kept or sent.
	Outbox *notify.Outbox
	Sender *notify.Sender
}

// SignInReader reads sign-ins from Entra.
type SignInReader interface {
	// SignInActivity is the last sign-ins of each user (zero: never).
	SignInActivity(ctx context.Context, userIDs []string) (map[string]engagement.SignInActivity, error)
	// SignIns lists a user's sign-ins since a time.
	SignIns(ctx context.Context, userID string, since time.Time) ([]engagement.SignIn, error)
}

// The marks oversight keeps in the ledger.
const (
	// SignInPrefix + user id: the user's last sign-ins as the reconcile
	// last read them (SignInMark), for the report.
	SignInPrefix = "signin/"
	// dormantPrefix + contractor: since when they are dormant.
	dormantPrefix = "dormant/"
	// AfterEndPrefix + user id + "/" + time: a successful sign-in after
	// the end, for the report.
	AfterEndPrefix = "afterend/"
)

// SignInMark is the value of a SignInPrefix mark: the activity, and when
// the reconcile first read it so (it writes the mark only when it changes).
type SignInMark struct {
	engagement.SignInActivity
	Read time.Time `json:"read"`
}

// oversee runs the checks after a reconcile's groups. Its failures are
// logged and counted, never fatal: the memberships are the reconcile's job.
func (s *Sweeper) oversee(ctx context.Context, now time.Time, sum *Summary) {
	o := s.Oversight
	var people []person
	for c, err := range s.Ledger.Contractors(ctx) {
		if err != nil {
			s.overseeFailed(ctx, sum, "read the contractors", err)
			return
		}
		engs, err := s.Ledger.ContractorEngagements(ctx, c.Key)
		if err != nil {
			s.overseeFailed(ctx, sum, "read "+c.Key+"'s engagements", err)
			return
		}
		people = append(people, person{c, engs})
	}
	var notes []notify.Notification
	for _, p := range people {
		notes = append(notes, s.reminders(p, now)...)
		notes = append(notes, ended(p, now, max(o.VerifyWindow, 7*24*time.Hour))...)
	}
	activity := s.readActivity(ctx, people, now, sum)
	if activity != nil && o.DormantAfter > 0 {
		notes = append(notes, s.dormant(ctx, people, activity, now, sum)...)
	}
	if o.SignIns != nil && o.VerifyWindow > 0 {
		notes = append(notes, s.afterEnd(ctx, people, now, sum)...)
	}
	s.notify(ctx, sum, notes...)
}

type person struct {
	c    engagement.Contractor
	engs []engagement.Engagement
}

// active is the person's engagement in force now, if any.
func (p person) active(now time.Time) (engagement.Engagement, bool) {
	for _, e := range p.engs {
		if e.StatusAt(now) == engagement.Active {
			return e, true
		}
	}
	return engagement.Engagement{}, false
}

func (s *Sweeper) overseeFailed(ctx context.Context, sum *Summary, what string, err error) {
	sum.Errors++
	sum.note(Account{Action: "failed", Reason: "oversight: " + what + ": " + err.Error()})
	s.Log.ErrorContext(ctx, "sweep: oversight: "+what, "error", err.Error())
}

// notify hands notifications to the outbox.
func (s *Sweeper) notify(ctx context.Context, sum *Summary, notes ...notify.Notification) {
	if s.Oversight.Outbox == nil || len(notes) == 0 {
		return
	}
	if _, err := s.Oversight.Outbox.Add(ctx, notes...); err != nil {
		s.overseeFailed(ctx, sum, "record notifications", err)
	}
}

// reminders are due once per engagement, threshold and end date: an
// extended engagement is reminded of again before its new end.
func (s *Sweeper) reminders(p person, now time.Time) []notify.Notification {
	e, ok := p.active(now)
	if !ok || e.EndsAt.IsZero() {
		return nil
	}
	var out []notify.Notification
	left := e.EndsAt.Sub(now)
	for _, t := range s.Oversight.RemindBefore {
		if left > t {
			continue
		}
		out = append(out, notify.Notification{
			ID:   fmt.Sprintf("reminder/%s/%s/%d", e.ID, t, e.EndsAt.Unix()),
			Type: notify.EngagementReminder, Subject: p.c.Key, Time: now,
			Data: notify.Data{Contractor: p.c.Key, Engagement: e.ID, Sponsor: e.Sponsor, EndsAt: e.EndsAt},
		})
		break // the nearest threshold only: a late start is reminded once
	}
	return out
}

// ended notes each engagement that ended within window (once: the outbox
// keeps ids), whether by its date or an ended event.
func ended(p person, now time.Time, window time.Duration) []notify.Notification {
	var out []notify.Notification
	for _, e := range p.engs {
		if e.State != engagement.Ended || e.EndsAt.IsZero() || now.Sub(e.EndsAt) > window {
			continue
		}
		out = append(out, notify.Notification{
			ID:   fmt.Sprintf("ended/%s/%d", e.ID, e.EndsAt.Unix()),
			Type: notify.EngagementEnded, Subject: p.c.Key, Time: e.EndsAt,
			Data: notify.Data{Contractor: p.c.Key, Engagement: e.ID, Sponsor: e.Sponsor, EndsAt: e.EndsAt, User: p.c.UserID},
		})
	}
	return out
}

// readActivity reads the last sign-ins of every contractor's account and
// keeps them as marks; nil when they are unknown (no reader, or Graph
// refused: the permission or the licence is missing).
func (s *Sweeper) readActivity(ctx context.Context, people []person, now time.Time, sum *Summary) map[string]engagement.SignInActivity {
	if s.Oversight.SignIns == nil {
		return nil
	}
	var ids []string
	for _, p := range people {
		if p.c.UserID != "" {
			ids = append(ids, p.c.UserID)
		}
	}
	if len(ids) == 0 {
		return map[string]engagement.SignInActivity{}
	}
	activity, err := s.Oversight.SignIns.SignInActivity(ctx, ids)
	if err != nil {
		sum.SignIns = "sign-in activity unknown: " + err.Error()
		s.signInNote.Do(func() { s.Log.WarnContext(ctx, "sweep: "+sum.SignIns) })
		return nil
	}
	kept, err := s.Ledger.Marks(ctx, SignInPrefix)
	if err != nil {
		s.overseeFailed(ctx, sum, "read the sign-in activity kept", err)
		return activity
	}
	for _, id := range ids {
		var was SignInMark
		_ = json.Unmarshal([]byte(kept[SignInPrefix+id]), &was)
		if kept[SignInPrefix+id] != "" && sameActivity(was.SignInActivity, activity[id]) {
			continue // unchanged: no write
		}
		b, _ := json.Marshal(SignInMark{SignInActivity: activity[id], Read: now})
		if err := s.Ledger.SetMark(ctx, SignInPrefix+id, string(b)); err != nil {
			s.overseeFailed(ctx, sum, "record sign-in activity", err)
			return activity
		}
	}
	return activity
}

// sameActivity compares the instants, whatever their time zones.
func sameActivity(a, b engagement.SignInActivity) bool {
	return a.LastInteractive.Equal(b.LastInteractive) && a.LastNonInteractive.Equal(b.LastNonInteractive) && a.LastSuccessful.Equal(b.LastSuccessful)
}

// last is a user's latest sign-in of any kind (zero: never).
func last(a engagement.SignInActivity) time.Time {
	t := a.LastInteractive
	for _, u := range []time.Time{a.LastNonInteractive, a.LastSuccessful} {
		if u.After(t) {
			t = u
		}
	}
	return t
}

// dormant flags engaged contractors who have not signed in for
// DormantAfter — counted from their last sign-in, or from their
// engagement's start when they never signed in — once per quiet spell,
// and ends their access with DormantEnd.
func (s *Sweeper) dormant(ctx context.Context, people []person, activity map[string]engagement.SignInActivity, now time.Time, sum *Summary) []notify.Notification {
	marks, err := s.Ledger.Marks(ctx, dormantPrefix)
	if err != nil {
		s.overseeFailed(ctx, sum, "read the dormant marks", err)
		return nil
	}
	var out []notify.Notification
	for _, p := range people {
		e, ok := p.active(now)
		mark := dormantPrefix + p.c.Key
		if !ok || p.c.UserID == "" {
			continue
		}
		// The quiet spell counts from the last sign-in, and no earlier than
		// the engagement's start: a newcomer is not dormant on day one.
		lastIn := last(activity[p.c.UserID])
		since := lastIn
		if e.StartsAt.After(since) {
			since = e.StartsAt
		}
		never := lastIn.IsZero()
		if since.IsZero() || now.Sub(since) < s.Oversight.DormantAfter {
			if marks[mark] != "" {
				_ = s.Ledger.DeleteMark(ctx, mark) // signed in again
			}
			continue
		}
		sum.Dormant++
		if marks[mark] == stamp(since) {
			continue // flagged already for this quiet spell
		}
		if err := s.Ledger.SetMark(ctx, mark, stamp(since)); err != nil {
			s.overseeFailed(ctx, sum, "record a dormant contractor", err)
			continue
		}
		why := fmt.Sprintf("no sign-in since %s (more than %s)", stamp(since), s.Oversight.DormantAfter)
		switch {
		case never:
			why = fmt.Sprintf("never signed in since the engagement started on %s (more than %s)", stamp(since), s.Oversight.DormantAfter)
		case since.Equal(e.StartsAt):
			why = fmt.Sprintf("no sign-in since the engagement started on %s (more than %s; the last was on %s)", stamp(since), s.Oversight.DormantAfter, stamp(lastIn))
		}
		action := "report"
		if s.Oversight.DormantEnd {
			action = "end"
		}
		s.audit(ctx, engagement.AuditEntry{At: now, Contractor: p.c.Key, Engagement: e.ID, Actor: "stint:reconcile",
			Action: engagement.ContractorDormant, Detail: why + "; STINT_DORMANT_ACTION=" + action})
		sum.note(Account{UserID: p.c.UserID, Contractor: p.c.Key, Action: "dormant", Reason: why})
		out = append(out, notify.Notification{ID: "dormant/" + p.c.Key + "/" + stamp(since), Type: notify.ContractorDormant, Subject: p.c.Key, Time: now,
			Data: notify.Data{Contractor: p.c.Key, Engagement: e.ID, Sponsor: e.Sponsor, User: p.c.UserID, SignInAt: lastIn, Reason: why + "; STINT_DORMANT_ACTION=" + action}})
		if s.Oversight.DormantEnd {
			s.endDormant(ctx, p, now, sum)
		}
	}
	return out
}

// endDormant ends every active engagement of a dormant contractor with an
// ended event of stint's own (source stint/dormant), so that the worker's
// rules remove the access and the audit trail says why.
func (s *Sweeper) endDormant(ctx context.Context, p person, now time.Time, sum *Summary) {
	for _, e := range p.engs {
		if e.StatusAt(now) != engagement.Active {
			continue
		}
		end := now
		ev := event.Event{SpecVersion: "1.0", ID: "dormant-" + e.ID + "-" + now.UTC().Format("20060102T150405Z"), Source: "stint/dormant",
			Type: event.Ended, Time: now, Subject: e.ID,
			Data: event.Data{EngagementID: e.ID, Contractor: event.Contractor{Email: e.Email}, EndsAt: &end}}
		if _, err := s.Worker.HandleEvent(ctx, ev); err != nil {
			s.overseeFailed(ctx, sum, "end "+p.c.Key+"'s dormant engagement "+e.ID, err)
			continue
		}
		sum.Expired++
	}
}

// afterEnd reads the sign-ins of contractors whose engagement ended within
// VerifyWindow and who hold no other: a successful one after stint took
// the access away is a critical finding, once per sign-in; refused ones
// are counted. One between the end and the removal (an end stint learned
// late, or the minute before the tick) is not: the access was still there.
func (s *Sweeper) afterEnd(ctx context.Context, people []person, now time.Time, sum *Summary) []notify.Notification {
	var out []notify.Notification
	for _, p := range people {
		if _, engaged := p.active(now); engaged || p.c.UserID == "" {
			continue
		}
		var end engagement.Engagement
		for _, e := range p.engs {
			if e.State == engagement.Ended && !e.EndsAt.IsZero() && now.Sub(e.EndsAt) <= s.Oversight.VerifyWindow && e.EndsAt.After(end.EndsAt) {
				end = e
			}
		}
		if end.ID == "" {
			continue
		}
		removed, err := s.removedAt(ctx, p.c.Key, end)
		if err != nil {
			s.overseeFailed(ctx, sum, "read when "+p.c.Key+"'s access ended", err)
			continue
		}
		signIns, err := s.Oversight.SignIns.SignIns(ctx, p.c.UserID, end.EndsAt)
		if err != nil {
			sum.SignIns = "sign-ins after the end unknown: " + err.Error()
			s.signInNote.Do(func() { s.Log.WarnContext(ctx, "sweep: "+sum.SignIns) })
			return out
		}
		for _, in := range signIns {
			if !in.At.After(removed) {
				continue // before stint took the access away (a late end)
			}
			if !in.Success {
				sum.RefusedAfterEnd++
				continue
			}
			sum.SignedInAfterEnd++
			mark := AfterEndPrefix + p.c.UserID + "/" + in.At.UTC().Format(time.RFC3339Nano)
			if seen, _ := s.Ledger.Marks(ctx, mark); seen[mark] != "" {
				continue
			}
			why := fmt.Sprintf("signed in successfully at %s, after engagement %s ended at %s and stint removed the access at %s (app %s, from %s)",
				in.At.UTC().Format(time.RFC3339), end.ID, stamp(end.EndsAt), stamp(removed), in.App, in.IP)
			if err := s.Ledger.SetMark(ctx, mark, end.ID); err != nil {
				s.overseeFailed(ctx, sum, "record a sign-in after the end", err)
				continue
			}
			s.Log.ErrorContext(ctx, "sweep: critical: a contractor signed in after their engagement ended",
				"contractor", p.c.Key, "user", p.c.UserID, "engagement", end.ID, "at", in.At, "app", in.App)
			s.audit(ctx, engagement.AuditEntry{At: now, Contractor: p.c.Key, Engagement: end.ID, Actor: "stint:reconcile",
				Action: engagement.SignedInAfterEnd, Detail: why})
			sum.note(Account{UserID: p.c.UserID, Contractor: p.c.Key, Action: "signed in after end", Reason: why})
			out = append(out, notify.Notification{ID: "after-end/" + p.c.UserID + "/" + in.At.UTC().Format(time.RFC3339Nano),
				Type: notify.SignInAfterEnd, Subject: p.c.Key, Time: in.At,
				Data: notify.Data{Contractor: p.c.Key, Engagement: end.ID, Sponsor: end.Sponsor, EndsAt: end.EndsAt, User: p.c.UserID,
					SignInAt: in.At, Reason: "critical: " + why}})
		}
	}
	return out
}

// removedAt is when stint applied an engagement's end — took the access
// away — as the audit trail says: the first settle at or after the end
// that recorded the engagement ended (the tick's engagement.ended, or the
// ended event's own entry). The end itself when the trail does not say.
func (s *Sweeper) removedAt(ctx context.Context, contractor string, end engagement.Engagement) (time.Time, error) {
	entries, err := s.Ledger.Audit(ctx, engagement.AuditQuery{Contractor: contractor})
	if err != nil {
		return time.Time{}, err
	}
	var at time.Time
	for _, a := range entries {
		applied := a.Action == engagement.EngagementEnded || a.Action == engagement.EventApplied || a.Action == engagement.EventAppliedOutOfOrder
		if a.Engagement == end.ID && applied && !a.At.Before(end.EndsAt) && (at.IsZero() || a.At.Before(at)) {
			at = a.At
		}
	}
	if at.IsZero() {
		return end.EndsAt, nil
	}
	return at, nil
}

// audit appends entries, logging a failure (the finding is also in the
// summary and the log).
func (s *Sweeper) audit(ctx context.Context, entries ...engagement.AuditEntry) {
	if err := s.Ledger.Append(ctx, entries...); err != nil {
		s.Log.ErrorContext(ctx, "sweep: audit entry lost", "error", err.Error())
	}
}

// send delivers what the outbox holds that is due, and forgets what was
// delivered long ago. Only the tick sends, under its lease: the outbox's
// updates want one writer at a time (the reconcile only adds, and its
// notifications go out at the next tick). Failures are the outbox's to
// retry.
func (s *Sweeper) send(ctx context.Context, mode string) {
	o := s.Oversight
	if o.Outbox == nil || o.Sender == nil || mode != "tick" {
		return
	}
	if _, err := o.Outbox.Prune(ctx, s.Now()); err != nil {
		s.Log.WarnContext(ctx, "sweep: old notifications not pruned", "error", err.Error())
	}
	sent, failed, err := o.Sender.Flush(ctx, o.Outbox)
	if err != nil {
		s.Log.ErrorContext(ctx, "sweep: notifications not sent", "error", err.Error())
		return
	}
	if sent+failed > 0 {
		s.Log.InfoContext(ctx, "sweep: notifications", "sent", sent, "failed", failed)
	}
}
