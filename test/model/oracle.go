package model

import (
	"cmp"
	"slices"
	"time"

	"github.com/stintdev/stint/pkg/event"
)

// The oracle: what the README's rules say each engagement and each
// contractor should be, from the accepted events alone. It is written from
// the README ("The event", "The engagement rules"), not from
// pkg/engagement, and calls nothing in stint but the event types.

// rank orders event types at equal time: ended over extended over started.
func rank(t event.Type) int {
	switch t {
	case event.Ended:
		return 3
	case event.Extended:
		return 2
	}
	return 1
}

// newer reports whether a is ordered after b: by time, then type rank,
// then id.
func newer(a, b event.Event) bool {
	return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(rank(a.Type), rank(b.Type)), cmp.Compare(a.ID, b.ID)) > 0
}

// Expected is one engagement as the oracle sees it.
type Expected struct {
	// Granted: a started event was accepted (only a started event grants).
	Granted bool
	// Start is zero while no event has said when it starts.
	Start, End time.Time
	Access     []string
}

// Fold merges an engagement's accepted events. Each field is set by the
// newest event that speaks of it:
//
//   - start: a started event (its startsAt, else its time), or an extended
//     or ended event that carries startsAt;
//   - end: every event (startsAt and endsAt are required on started and
//     extended; an ended event without endsAt ends at its time);
//   - access: a started event (its access, else the default access), or an
//     extended event that lists access;
//   - the grant: any started event.
//
// Events are taken once per id, whatever their order or repetition.
func Fold(evs []event.Event, defaults []string) Expected {
	var x Expected
	var startBy, endBy, accessBy *event.Event
	seen := map[string]bool{}
	for i := range evs {
		ev := &evs[i]
		if seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		if ev.Type == event.Started {
			x.Granted = true
		}
		if ev.Type == event.Started || ev.Data.StartsAt != nil {
			if startBy == nil || newer(*ev, *startBy) {
				startBy = ev
				x.Start = ev.Time
				if ev.Data.StartsAt != nil {
					x.Start = *ev.Data.StartsAt
				}
			}
		}
		if endBy == nil || newer(*ev, *endBy) {
			endBy = ev
			x.End = ev.Time
			if ev.Data.EndsAt != nil {
				x.End = *ev.Data.EndsAt
			}
		}
		if ev.Type == event.Started || ev.Type == event.Extended && len(ev.Data.Access) > 0 {
			if accessBy == nil || newer(*ev, *accessBy) {
				accessBy = ev
				x.Access = ev.Data.Access
				if len(x.Access) == 0 {
					x.Access = defaults
				}
			}
		}
	}
	x.Start, x.End = x.Start.UTC(), x.End.UTC()
	return x
}

// Active: granted, started, not yet ended.
func (x Expected) Active(now time.Time) bool {
	return x.Granted && !x.Start.IsZero() && !now.Before(x.Start) && now.Before(x.End)
}

// Live: granted and not ended, so active or still to come.
func (x Expected) Live(now time.Time) bool {
	return x.Granted && now.Before(x.End)
}

// Standing is what a contractor should have at an instant.
type Standing struct {
	// Want is the union of the access of the active engagements, sorted.
	Want []string
	// Live: some engagement is active or still to come; with none, a
	// guest's sign-in is blocked.
	Live bool
}

// Expect computes the standing of every contractor at now from the
// accepted events, by engagement id; owner maps an engagement to its
// contractor.
func Expect(accepted map[string][]event.Event, owner func(eng string) string, now time.Time) map[string]Standing {
	out := map[string]Standing{}
	for eng, evs := range accepted {
		c := owner(eng)
		x := Fold(evs, DefaultAccess)
		s := out[c]
		if x.Active(now) {
			s.Want = append(s.Want, x.Access...)
		}
		s.Live = s.Live || x.Live(now)
		out[c] = s
	}
	for c, s := range out {
		slices.Sort(s.Want)
		s.Want = slices.Compact(s.Want)
		out[c] = s
	}
	return out
}
