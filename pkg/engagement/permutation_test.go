package engagement_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
)

// Every order of arrival of an engagement's events, each with and without one
// event delivered twice, ends in the record that arrival in time order gives,
// and so in the same plan at every instant.
func TestArrivalOrderDoesNotMatter(t *testing.T) {
	now := d(0)
	scenarios := []struct {
		name   string
		events []event.Event // in time order
		// at the given instants the in-order record must have this status
		status map[float64]engagement.Status
	}{
		{
			name: "started, extended, ended now",
			events: []event.Event{
				started("s", d(-30), d(-30), d(30), "finance-apps"),
				extended("x", d(-10), d(60), "github-org"),
				ended("e", d(-1), nil),
			},
			status: map[float64]engagement.Status{-20: engagement.Active, -0.5: engagement.Ended},
		},
		{
			name: "started in the future, ended with a scheduled end",
			events: []event.Event{
				started("s", d(-3), d(2), d(90)),
				ended("e", d(-1), ptr(d(10))),
			},
			status: map[float64]engagement.Status{1: engagement.Pending, 5: engagement.Active, 10: engagement.Ended},
		},
		{
			name: "started, two extensions, the second with new access",
			events: []event.Event{
				started("s", d(-30), d(-30), d(10)),
				extended("x1", d(-20), d(20)),
				extended("x2", d(-10), d(40), "github-org"),
			},
			status: map[float64]engagement.Status{30: engagement.Active, 40: engagement.Ended},
		},
		{
			name: "started, ended, then an extension that reopens",
			events: []event.Event{
				started("s", d(-30), d(-30), d(10)),
				ended("e", d(-20), nil),
				extended("x", d(-5), d(40)),
			},
			status: map[float64]engagement.Status{-10: engagement.Active, 0: engagement.Active},
		},
		{
			name: "same time for extension and end: the end wins",
			events: []event.Event{
				started("s", d(-30), d(-30), d(10)),
				extended("x", d(-5), d(40)),
				ended("e", d(-5), nil),
			},
			status: map[float64]engagement.Status{-10: engagement.Active, 0: engagement.Ended},
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			want, _ := fold(t, now, sc.events...)
			for at, status := range sc.status {
				if got := want.StatusAt(d(at)); got != status {
					t.Fatalf("in order: StatusAt(d%v) = %s, want %s", at, got, status)
				}
			}
			orders := arrivals(len(sc.events))
			for _, order := range orders {
				seq := make([]event.Event, len(order))
				for i, k := range order {
					seq[i] = sc.events[k]
				}
				got, _ := fold(t, now, seq...)
				if diff := recordDiff(got, want); diff != "" {
					t.Errorf("arrival %v: %s", order, diff)
				}
				if dup := duplicateAt(order); dup >= 0 {
					before, _ := fold(t, now, seq[:dup]...)
					if diff := recordDiff(outcomeRecord(t, now, seq[:dup+1]), before); diff != "" {
						t.Errorf("arrival %v: merging the redelivery at %d changed the record: %s", order, dup, diff)
					}
				}
				for _, at := range []float64{-40, -25, -10, -1, 0, 5, 15, 50, 100} {
					c := engagement.Contractor{Key: want.Contractor}
					if p, q := engagement.PlanAccess(c, []engagement.Engagement{got}, d(at)), engagement.PlanAccess(c, []engagement.Engagement{want}, d(at)); !equalPlans(p, q) {
						t.Errorf("arrival %v: plan at d%v = %+v, in order %+v", order, at, p, q)
					}
				}
			}
			t.Logf("%d arrival orders checked", len(orders))
		})
	}
}

// Events of two overlapping engagements of one contractor, interleaved in
// every order, give the same effective access at every instant.
func TestInterleavedEngagementsOfOneContractor(t *testing.T) {
	now := d(0)
	events := []event.Event{
		started("a-s", d(-30), d(-30), d(30), "contractor-access"),
		other("ENG-2", started("b-s", d(-20), d(-10), d(60), "contractor-access", "github-org")),
		ended("a-e", d(-2), nil),
		other("ENG-2", extended("b-x", d(-1), d(90))),
	}
	want := foldByEngagement(t, now, events)
	for _, order := range permutations(len(events)) {
		seq := make([]event.Event, len(order))
		for i, k := range order {
			seq[i] = events[k]
		}
		got := foldByEngagement(t, now, seq)
		for _, at := range []float64{-25, -5, 0, 45, 70, 95} {
			g, w := engagement.EffectiveAccess(got, d(at)), engagement.EffectiveAccess(want, d(at))
			if !slices.Equal(g, w) {
				t.Errorf("arrival %v: access at d%v = %v, in order %v", order, at, g, w)
			}
		}
	}
	if got := engagement.EffectiveAccess(want, d(0)); !slices.Equal(got, []string{"contractor-access", "github-org"}) {
		t.Errorf("after ENG-1 ended, access = %v, want ENG-2's contractor-access and github-org", got)
	}
}

func foldByEngagement(tb testing.TB, now time.Time, events []event.Event) []engagement.Engagement {
	tb.Helper()
	recs := map[string]engagement.Engagement{}
	for _, e := range events {
		rec, _, err := engagement.Merge(recs[e.Data.EngagementID], e, now, opts)
		if err != nil {
			tb.Fatal(err)
		}
		recs[e.Data.EngagementID] = rec
	}
	var out []engagement.Engagement
	for _, id := range []string{"ENG-1", "ENG-2"} {
		out = append(out, recs[id])
	}
	return out
}

func outcomeRecord(tb testing.TB, now time.Time, events []event.Event) engagement.Engagement {
	tb.Helper()
	rec, _ := fold(tb, now, events...)
	return rec
}

// recordDiff compares two records.
func recordDiff(got, want engagement.Engagement) string {
	if !reflect.DeepEqual(got, want) {
		return "record differs:\n  got  " + show(got) + "\n  want " + show(want)
	}
	return ""
}

func show(e engagement.Engagement) string {
	return fmt.Sprintf("%s..%s started=%v terminated=%v access=%v", e.StartsAt.Format(time.RFC3339), e.EndsAt.Format(time.RFC3339), e.Started, e.Terminated, e.Access)
}

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := slices.Insert(slices.Clone(p), i, n-1)
			out = append(out, q)
		}
	}
	return out
}

// arrivals returns every order of n events, plus every order in which one of
// them is delivered a second time, at any later position.
func arrivals(n int) [][]int {
	var out [][]int
	for _, p := range permutations(n) {
		out = append(out, p)
		for first := 0; first < n; first++ {
			for at := first + 1; at <= n; at++ {
				out = append(out, slices.Insert(slices.Clone(p), at, p[first]))
			}
		}
	}
	return out
}

// duplicateAt returns the position of the second delivery in order, or -1.
func duplicateAt(order []int) int {
	seen := map[int]bool{}
	for i, k := range order {
		if seen[k] {
			return i
		}
		seen[k] = true
	}
	return -1
}
