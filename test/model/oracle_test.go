package model

import (
	"slices"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/event"
)

// ev builds an event for the oracle's tests; times are hours after T0.
func ev(id string, typ event.Type, at float64, data func(*event.Data)) event.Event {
	e := event.Event{ID: id, Type: typ, Time: T0.Add(hours(at)), Data: event.Data{EngagementID: "ENG-c0-0"}}
	if data != nil {
		data(&e.Data)
	}
	return e
}

func hours(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }

func at(h float64) *time.Time { t := T0.Add(hours(h)); return &t }

func ends(h float64) func(*event.Data) { return func(d *event.Data) { d.EndsAt = at(h) } }

// TestFold checks the oracle against the README's engagement rules.
func TestFold(t *testing.T) {
	tests := []struct {
		name   string
		events []event.Event
		// the standing at hour now
		now        float64
		wantActive bool
		wantLive   bool
		wantAccess []string
	}{
		{"a started event grants from its time until endsAt",
			[]event.Event{ev("a", event.Started, 0, ends(10))}, 5, true, true, DefaultAccess},
		{"startsAt in the future: pending, but live",
			[]event.Event{ev("a", event.Started, 0, func(d *event.Data) { d.StartsAt, d.EndsAt = at(6), at(10) })}, 5, false, true, DefaultAccess},
		{"ended at endsAt",
			[]event.Event{ev("a", event.Started, 0, ends(10))}, 10, false, false, DefaultAccess},
		{"only a started event grants: an extension alone stays pending",
			[]event.Event{ev("a", event.Extended, 0, ends(10))}, 5, false, false, nil},
		{"an ended event without endsAt ends at its time",
			[]event.Event{ev("a", event.Started, 0, ends(10)), ev("b", event.Ended, 4, nil)}, 5, false, false, DefaultAccess},
		{"an ended event's future endsAt schedules the end",
			[]event.Event{ev("a", event.Started, 0, ends(10)), ev("b", event.Ended, 4, ends(6))}, 5, true, true, DefaultAccess},
		{"an ended event's endsAt is taken even when later than the current end",
			[]event.Event{ev("a", event.Started, 0, ends(10)), ev("b", event.Ended, 4, ends(20))}, 15, true, true, DefaultAccess},
		{"an extension dated after an end reopens",
			[]event.Event{ev("a", event.Started, 0, ends(10)), ev("b", event.Ended, 4, nil), ev("c", event.Extended, 5, ends(30))}, 8, true, true, DefaultAccess},
		{"an extension dated before the end does not reopen",
			[]event.Event{ev("a", event.Started, 0, ends(10)), ev("c", event.Extended, 3, ends(30)), ev("b", event.Ended, 4, nil)}, 8, false, false, DefaultAccess},
		{"order of arrival does not matter",
			[]event.Event{ev("b", event.Ended, 4, nil), ev("c", event.Extended, 3, ends(30)), ev("a", event.Started, 0, ends(10))}, 8, false, false, DefaultAccess},
		{"at equal time an end outranks an extension",
			[]event.Event{ev("a", event.Started, 0, ends(10)), ev("z", event.Extended, 4, ends(30)), ev("b", event.Ended, 4, nil)}, 8, false, false, DefaultAccess},
		{"at equal time an extension outranks a start",
			[]event.Event{ev("z", event.Started, 0, ends(10)), ev("a", event.Extended, 0, ends(30))}, 20, true, true, DefaultAccess},
		{"at equal time and type the greater id wins",
			[]event.Event{ev("a", event.Started, 0, ends(10)), ev("b", event.Extended, 2, ends(30)), ev("c", event.Extended, 2, ends(15))}, 20, false, false, DefaultAccess},
		{"a started event without access grants the default access",
			[]event.Event{ev("a", event.Started, 0, ends(10))}, 5, true, true, DefaultAccess},
		{"an extension that lists access replaces it",
			[]event.Event{ev("a", event.Started, 0, func(d *event.Data) { d.EndsAt, d.Access = at(10), []string{"vpn"} }),
				ev("b", event.Extended, 1, func(d *event.Data) { d.EndsAt, d.Access = at(10), []string{"github-org"} })}, 5, true, true, []string{"github-org"}},
		{"an extension without access keeps it",
			[]event.Event{ev("a", event.Started, 0, func(d *event.Data) { d.EndsAt, d.Access = at(10), []string{"vpn"} }),
				ev("b", event.Extended, 1, ends(12))}, 11, true, true, []string{"vpn"}},
		{"a started event arriving after its extension still grants and starts",
			[]event.Event{ev("b", event.Extended, 1, ends(12)), ev("a", event.Started, 0, func(d *event.Data) { d.StartsAt, d.EndsAt = at(2), at(10) })}, 3, true, true, DefaultAccess},
		{"an extension's startsAt moves the start",
			[]event.Event{ev("a", event.Started, 0, ends(10)), ev("b", event.Extended, 1, func(d *event.Data) { d.StartsAt, d.EndsAt = at(6), at(12) })}, 5, false, true, DefaultAccess},
		{"the same event twice counts once",
			[]event.Event{ev("a", event.Started, 0, ends(10)), ev("a", event.Started, 0, ends(10))}, 5, true, true, DefaultAccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := Fold(tt.events, DefaultAccess)
			now := T0.Add(hours(tt.now))
			if got := x.Active(now); got != tt.wantActive {
				t.Errorf("active at hour %v = %v, want %v (%+v)", tt.now, got, tt.wantActive, x)
			}
			if got := x.Live(now); got != tt.wantLive {
				t.Errorf("live at hour %v = %v, want %v (%+v)", tt.now, got, tt.wantLive, x)
			}
			if !slices.Equal(x.Access, tt.wantAccess) {
				t.Errorf("access = %v, want %v", x.Access, tt.wantAccess)
			}
		})
	}
}

// TestExpect: effective access is the union of the active engagements',
// and a contractor is live while any engagement is active or to come.
func TestExpect(t *testing.T) {
	events := map[string][]event.Event{
		"ENG-c0-0": {ev("a", event.Started, 0, func(d *event.Data) { d.EndsAt, d.Access = at(10), []string{"vpn"} })},
		"ENG-c0-1": {ev("b", event.Started, 0, func(d *event.Data) { d.EndsAt, d.Access = at(5), []string{"github-org", "vpn"} })},
		"ENG-c1-0": {ev("c", event.Started, 0, func(d *event.Data) { d.StartsAt, d.EndsAt = at(8), at(9) })},
	}
	got := Expect(events, owner, T0.Add(hours(4)))
	if want := []string{"github-org", "vpn"}; !slices.Equal(got["c0"].Want, want) || !got["c0"].Live {
		t.Errorf("c0 = %+v, want %v and live", got["c0"], want)
	}
	if len(got["c1"].Want) != 0 || !got["c1"].Live {
		t.Errorf("c1 = %+v, want nothing yet, and live (a start to come)", got["c1"])
	}
	got = Expect(events, owner, T0.Add(hours(6)))
	if want := []string{"vpn"}; !slices.Equal(got["c0"].Want, want) {
		t.Errorf("c0 after one ends = %v, want %v: ending one keeps what the other grants", got["c0"].Want, want)
	}
}
