package engagement_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/fault"
)

func TestStatusAt(t *testing.T) {
	granted := engagement.Engagement{Started: true, StartsAt: d(1), EndsAt: d(10)}
	notGranted := granted
	notGranted.Started = false
	tests := []struct {
		name string
		e    engagement.Engagement
		now  time.Time
		want engagement.Status
	}{
		{"before the start", granted, d(0.5), engagement.Pending},
		{"at the start", granted, d(1), engagement.Active},
		{"between start and end", granted, d(5), engagement.Active},
		{"at the end", granted, d(10), engagement.Ended},
		{"after the end", granted, d(11), engagement.Ended},
		{"no started event yet, within the dates", notGranted, d(5), engagement.Pending},
		{"no started event yet, after the end", notGranted, d(11), engagement.Ended},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.StatusAt(tt.now); got != tt.want {
				t.Errorf("StatusAt(%v) = %s, want %s", tt.now, got, tt.want)
			}
		})
	}
}

func TestDueAt(t *testing.T) {
	base := engagement.Engagement{Started: true, StartsAt: d(1), EndsAt: d(10)}
	tests := []struct {
		name  string
		state engagement.Status
		edit  func(e *engagement.Engagement)
		want  time.Time
	}{
		{"pending and granted: its start", engagement.Pending, nil, d(1)},
		{"pending without a started event: its end", engagement.Pending, func(e *engagement.Engagement) { e.Started = false }, d(10)},
		{"pending, moved to end before it starts: its end", engagement.Pending, func(e *engagement.Engagement) { e.EndsAt = d(0.5) }, d(0.5)},
		{"active: its end", engagement.Active, nil, d(10)},
		{"ended: never", engagement.Ended, nil, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			e.State = tt.state
			if tt.edit != nil {
				tt.edit(&e)
			}
			if got := e.DueAt(); !got.Equal(tt.want) {
				t.Errorf("DueAt() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMergeRules(t *testing.T) {
	now := d(0)
	tests := []struct {
		name   string
		events []event.Event
		want   func(t *testing.T, e engagement.Engagement)
		last   engagement.Outcome
	}{
		{
			name:   "started creates a granted record keyed by the lower-cased email",
			events: []event.Event{started("e1", d(0), d(0), d(90), "finance-apps")},
			last:   engagement.Applied,
			want: func(t *testing.T, e engagement.Engagement) {
				if e.ID != "ENG-1" || e.Contractor != "ana@partner.example" || e.Email != "Ana@Partner.example" {
					t.Errorf("ID, Contractor, Email = %q, %q, %q", e.ID, e.Contractor, e.Email)
				}
				if !e.Started || !e.StartsAt.Equal(d(0)) || !e.EndsAt.Equal(d(90)) || e.StatusAt(now) != engagement.Active {
					t.Errorf("Started %v, %v..%v, status %s; want granted, active from d0 to d90", e.Started, e.StartsAt, e.EndsAt, e.StatusAt(now))
				}
				wantAccess(t, e, "finance-apps")
			},
		},
		{
			name:   "started without access gets the default access",
			events: []event.Event{started("e1", d(0), d(0), d(90))},
			last:   engagement.Applied,
			want:   func(t *testing.T, e engagement.Engagement) { wantAccess(t, e, "contractor-access") },
		},
		{
			name: "started without startsAt starts at its time",
			events: []event.Event{ev("e1", event.Started, d(-1), func(e *event.Event) {
				e.Data.EndsAt = ptr(d(90))
			})},
			last: engagement.Applied,
			want: func(t *testing.T, e engagement.Engagement) {
				if !e.StartsAt.Equal(d(-1)) {
					t.Errorf("StartsAt = %v, want the event time %v", e.StartsAt, d(-1))
				}
			},
		},
		{
			name:   "extended moves the end and keeps the access when it lists none",
			events: []event.Event{started("e1", d(-2), d(-2), d(30), "finance-apps"), extended("e2", d(-1), d(60))},
			last:   engagement.Applied,
			want: func(t *testing.T, e engagement.Engagement) {
				if !e.EndsAt.Equal(d(60)) || !e.StartsAt.Equal(d(-2)) {
					t.Errorf("dates %v..%v, want d-2..d60", e.StartsAt, e.EndsAt)
				}
				wantAccess(t, e, "finance-apps")
			},
		},
		{
			name:   "extended replaces the access when it lists some",
			events: []event.Event{started("e1", d(-2), d(-2), d(30)), extended("e2", d(-1), d(60), "github-org", "contractor-access")},
			last:   engagement.Applied,
			want:   func(t *testing.T, e engagement.Engagement) { wantAccess(t, e, "contractor-access", "github-org") },
		},
		{
			name:   "ended without endsAt ends at its time",
			events: []event.Event{started("e1", d(-2), d(-2), d(30)), ended("e2", d(-0.01), nil)},
			last:   engagement.Applied,
			want: func(t *testing.T, e engagement.Engagement) {
				if e.StatusAt(now) != engagement.Ended || !e.EndsAt.Equal(d(-0.01)) || !e.Terminated {
					t.Errorf("status %s, end %v, terminated %v; want ended at the event's time by termination", e.StatusAt(now), e.EndsAt, e.Terminated)
				}
			},
		},
		{
			name:   "ended with a future endsAt schedules the end",
			events: []event.Event{started("e1", d(-2), d(-2), d(30)), ended("e2", d(-1), ptr(d(7)))},
			last:   engagement.Applied,
			want: func(t *testing.T, e engagement.Engagement) {
				if e.StatusAt(now) != engagement.Active || e.StatusAt(d(7)) != engagement.Ended {
					t.Errorf("status now %s, at d7 %s; want active until d7", e.StatusAt(now), e.StatusAt(d(7)))
				}
			},
		},
		{
			name:   "an older event is stale when newer ones superseded all it says",
			events: []event.Event{started("e1", d(-3), d(-3), d(30)), ended("e3", d(-1), nil), extended("e2", d(-2), d(60))},
			last:   engagement.Stale,
			want: func(t *testing.T, e engagement.Engagement) {
				if !e.EndsAt.Equal(d(-1)) || e.Last.EventID != "e3" {
					t.Errorf("end %v, last %s; want the end from e3, the newest", e.EndsAt, e.Last.EventID)
				}
			},
		},
		{
			name:   "an older started after its extension still grants, with the newer end",
			events: []event.Event{extended("e2", d(-1), d(60)), started("e1", d(-2), d(-2), d(30), "finance-apps")},
			last:   engagement.AppliedOutOfOrder,
			want: func(t *testing.T, e engagement.Engagement) {
				if !e.Started || !e.StartsAt.Equal(d(-2)) || !e.EndsAt.Equal(d(60)) {
					t.Errorf("Started %v, %v..%v; want granted d-2..d60", e.Started, e.StartsAt, e.EndsAt)
				}
				wantAccess(t, e, "finance-apps")
			},
		},
		{
			name:   "an extension alone does not grant",
			events: []event.Event{extended("e2", d(-1), d(60))},
			last:   engagement.Applied,
			want: func(t *testing.T, e engagement.Engagement) {
				if e.Started || e.StatusAt(now) != engagement.Pending {
					t.Errorf("Started %v, status %s; want pending until a started event", e.Started, e.StatusAt(now))
				}
			},
		},
		{
			name:   "an extension dated after the end reopens the engagement",
			events: []event.Event{started("e1", d(-5), d(-5), d(30)), ended("e2", d(-3), nil), extended("e3", d(-1), d(60))},
			last:   engagement.Applied,
			want: func(t *testing.T, e engagement.Engagement) {
				if e.StatusAt(now) != engagement.Active || e.Terminated {
					t.Errorf("status %s, terminated %v; want active again", e.StatusAt(now), e.Terminated)
				}
			},
		},
		{
			name:   "the same event merged again changes nothing",
			events: []event.Event{started("e1", d(-1), d(-1), d(30)), started("e1", d(-1), d(-1), d(30))},
			last:   engagement.Applied,
			want: func(t *testing.T, e engagement.Engagement) {
				once, _ := fold(t, now, started("e1", d(-1), d(-1), d(30)))
				if !reflect.DeepEqual(e, once) {
					t.Errorf("merged twice: %+v\nmerged once: %+v", e, once)
				}
			},
		},
		{
			name:   "at equal times an end outranks a start, whatever the ids",
			events: []event.Event{ended("a-end", d(-1), nil), started("z-start", d(-1), d(-2), d(30))},
			last:   engagement.AppliedOutOfOrder,
			want: func(t *testing.T, e engagement.Engagement) {
				if e.StatusAt(now) != engagement.Ended {
					t.Errorf("status %s, want ended: the termination wins the tie", e.StatusAt(now))
				}
			},
		},
		{
			name: "equal times are ordered by event id",
			events: []event.Event{
				extended("b", d(-1), d(60)), extended("a", d(-1), d(50)), started("s", d(-2), d(-2), d(30)),
			},
			last: engagement.AppliedOutOfOrder,
			want: func(t *testing.T, e engagement.Engagement) {
				if !e.EndsAt.Equal(d(60)) {
					t.Errorf("EndsAt = %v, want d60 from event b (b sorts after a)", e.EndsAt)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, outcomes := fold(t, now, tt.events...)
			if got := outcomes[len(outcomes)-1]; got != tt.last {
				t.Errorf("last outcome = %s, want %s", got, tt.last)
			}
			tt.want(t, rec)
		})
	}
}

func TestMergeRefuses(t *testing.T) {
	now := d(0)
	rec, _ := fold(t, now, started("e1", d(-1), d(-1), d(30)))
	tests := []struct {
		name string
		rec  engagement.Engagement
		e    event.Event
		want string
	}{
		{
			name: "an access key that is not configured",
			e:    started("e2", d(0), d(0), d(30), "contractor-access", "prod-admin"),
			want: `access key "prod-admin" is not configured in STINT_GROUPS`,
		},
		{
			name: "another contractor for a known engagement",
			rec:  rec,
			e: ev("e2", event.Extended, d(0), func(e *event.Event) {
				e.Data.Contractor.Email, e.Data.EndsAt = "mallory@evil.example", ptr(d(90))
			}),
			want: "engagement ENG-1 belongs to ana@partner.example, the event names mallory@evil.example",
		},
		{
			name: "a time too far ahead of now",
			e:    ended("e2", now.Add(engagement.MaxClockSkew+time.Second), nil),
			want: "is more than 5m0s ahead of now",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := engagement.Merge(tt.rec, tt.e, now, opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Merge error = %v, want one containing %q", err, tt.want)
			}
			if code := fault.CodeOf(err); code != fault.Invalid {
				t.Errorf("CodeOf = %s, want invalid", code)
			}
			if !reflect.DeepEqual(got, tt.rec) {
				t.Errorf("Merge changed the record on error")
			}
		})
	}
}

func wantAccess(t *testing.T, e engagement.Engagement, keys ...string) {
	t.Helper()
	if !slices.Equal(e.Access, keys) {
		t.Errorf("Access = %v, want %v", e.Access, keys)
	}
}
