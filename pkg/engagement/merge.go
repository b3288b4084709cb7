package engagement

import (
	"reflect"
	"slices"
	"time"

	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/fault"
)

// Outcome says what an event did to its engagement.
type Outcome string

// The outcomes of Merge.
const (
	// Applied: the event was the newest and changed the record.
	Applied Outcome = "applied"
	// AppliedOutOfOrder: older than the newest event applied, but it set
	// fields no newer event had set.
	AppliedOutOfOrder Outcome = "applied_out_of_order"
	// Stale: older than the newest event applied, and everything it carries
	// was superseded; recorded and otherwise ignored.
	Stale Outcome = "stale"
	// Duplicate: the same event (source and id, same content) again; a
	// no-op. Merge never returns it: the ledger remembers which events were
	// applied (Ledger.Seen), and the handler asks it before merging.
	Duplicate Outcome = "duplicate"
)

// MaxClockSkew is how far in the future an event's time may be. An event
// stamped further ahead would outrank every later event, and an "end now"
// would not end until then, so it is refused.
const MaxClockSkew = 5 * time.Minute

// Options are the configuration the rules need.
type Options struct {
	// DefaultAccess replaces an empty access list (STINT_DEFAULT_ACCESS).
	DefaultAccess []string
	// Allowed lists the configured access keys (STINT_GROUPS); nil allows all.
	Allowed []string
}

// Merge folds ev into rec (the zero Engagement when there is none yet) at
// now, and returns the new record and what the event did. Merging an event
// again changes nothing (each register keeps the newest stamp), though it is
// reported as applied: telling duplicates apart is the ledger's job. Errors are
// fault.Invalid: the event can never apply (its access key is not configured,
// it names another contractor than the engagement's, its time is too far
// ahead).
func Merge(rec Engagement, ev event.Event, now time.Time, opts Options) (Engagement, Outcome, error) {
	if err := check(rec, ev, now, opts); err != nil {
		return rec, "", err
	}
	next := rec
	s := StampOf(ev)
	if next.ID == "" {
		next.ID, next.Contractor, next.State = ev.Data.EngagementID, ev.ContractorKey(), Pending
	}
	if s.After(rec.ProfileSetBy) {
		next.ProfileSetBy = s
		next.Email = ev.Data.Contractor.Email
		next.DisplayName = ev.Data.Contractor.DisplayName
		next.Company = ev.Data.Contractor.Company
		next.Sponsor = ""
		if ev.Data.Sponsor != nil {
			next.Sponsor = ev.Data.Sponsor.Email
		}
		next.Source = ev.Source
	}
	if access, ok := accessOf(ev, opts); ok && s.After(rec.AccessSetBy) {
		next.AccessSetBy, next.Access = s, access
	}
	if start, ok := startOf(ev); ok && s.After(rec.StartSetBy) {
		next.StartSetBy, next.StartsAt = s, start
	}
	if s.After(rec.EndSetBy) {
		next.EndSetBy, next.EndsAt = s, endOf(ev)
		next.Terminated = ev.Type == event.Ended
	}
	if ev.Type == event.Started && s.After(rec.StartedBy) {
		next.Started, next.StartedBy = true, s
	}
	older := rec.Last.After(s)
	if !older {
		next.Last = s
	}
	switch {
	case !older:
		return next, Applied, nil
	case changed(rec, next):
		return next, AppliedOutOfOrder, nil
	}
	return next, Stale, nil
}

func check(rec Engagement, ev event.Event, now time.Time, opts Options) error {
	if rec.ID != "" && rec.Contractor != ev.ContractorKey() {
		return fault.Errorf(fault.Invalid, "event %s: engagement %s belongs to %s, the event names %s; an engagement cannot change hands, start a new one", ev.ID, rec.ID, rec.Contractor, ev.ContractorKey())
	}
	if ev.Time.After(now.Add(MaxClockSkew)) {
		return fault.Errorf(fault.Invalid, "event %s: time %s is more than %s ahead of now (%s); fix the sender's clock", ev.ID, ev.Time.Format(time.RFC3339), MaxClockSkew, now.UTC().Format(time.RFC3339))
	}
	access, _ := accessOf(ev, opts)
	if i := Unconfigured(access, opts.Allowed); i >= 0 {
		return fault.Errorf(fault.Invalid, "event %s: access key %q is not configured in STINT_GROUPS (configured: %v)", ev.ID, access[i], opts.Allowed)
	}
	return nil
}

// Unconfigured is the allow-list check, the one place it is made: the
// index in keys of the first access key not in allowed (STINT_GROUPS's
// keys), or -1. A nil allow-list allows every key.
func Unconfigured(keys, allowed []string) int {
	if allowed == nil {
		return -1
	}
	for i, k := range keys {
		if !slices.Contains(allowed, k) {
			return i
		}
	}
	return -1
}

// accessOf returns the access the event sets, and whether it sets any.
func accessOf(ev event.Event, opts Options) ([]string, bool) {
	switch {
	case ev.Type == event.Ended:
		return nil, false
	case len(ev.Data.Access) > 0:
		return sorted(ev.Data.Access), true
	case ev.Type == event.Started:
		return sorted(opts.DefaultAccess), true
	}
	return nil, false
}

func startOf(ev event.Event) (time.Time, bool) {
	if ev.Data.StartsAt != nil {
		return ev.Data.StartsAt.UTC(), true
	}
	return ev.Time.UTC(), ev.Type == event.Started
}

// endOf: an ended event without endsAt ends the engagement at its time,
// which is now give or take the sender's clock.
func endOf(ev event.Event) time.Time {
	if ev.Data.EndsAt != nil {
		return ev.Data.EndsAt.UTC()
	}
	return ev.Time.UTC()
}

// changed reports whether the merge changed the record.
func changed(a, b Engagement) bool { return !reflect.DeepEqual(a, b) }

func sorted(keys []string) []string {
	out := slices.Clone(keys)
	slices.Sort(out)
	return slices.Compact(out)
}
