package model

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
)

// story builds a small scenario by hand: the people, their events (each
// sent a minute after its time), administrator actions, and a drain every
// ten minutes and a tick every half hour over the random phase.
func story(people []*Entity, events []event.Event, admin ...Step) *Scenario {
	sc := &Scenario{Seed: 1, byID: map[string]*Entity{}, Events: map[string][]event.Event{}}
	seq := 0
	add := func(st Step) {
		seq++
		st.Seq = seq
		sc.Steps = append(sc.Steps, st)
	}
	for _, e := range people {
		sc.Entities = append(sc.Entities, e)
		sc.byID[e.ID] = e
		if e.ID[0] == 'c' {
			sc.N++
		}
	}
	for i := range events {
		ev := &events[i]
		sc.Events[ev.Data.EngagementID] = append(sc.Events[ev.Data.EngagementID], *ev)
		who := owner(ev.Data.EngagementID)
		add(Step{At: ev.Time.Add(time.Minute), Kind: Send, Owner: who, Event: ev})
	}
	for _, st := range admin {
		add(st)
	}
	for at := time.Duration(0); at <= Span; at += 10 * time.Minute {
		add(Step{At: T0.Add(at), Kind: Drain})
		if at%(30*time.Minute) == 0 {
			add(Step{At: T0.Add(at), Kind: Tick})
		}
	}
	slices.SortStableFunc(sc.Steps, func(a, b Step) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return a.Seq - b.Seq
	})
	return sc
}

// started makes a started event for person e's engagement j.
func started(e *Entity, j int, at, ends time.Duration, access ...string) event.Event {
	eng := fmt.Sprintf("ENG-%s-%d", e.ID, j)
	if !slices.Contains(e.Engagements, eng) {
		e.Engagements = append(e.Engagements, eng)
	}
	end := T0.Add(ends)
	return event.Event{SpecVersion: event.SpecVersion, ID: fmt.Sprintf("%s-%d-0", e.ID, j), Source: "hr/model", Type: event.Started,
		Time: T0.Add(at), Subject: eng, DataContentType: "application/json",
		Data: event.Data{EngagementID: eng, Contractor: event.Contractor{Email: e.Email}, Access: access, EndsAt: &end}}
}

const day = 24 * time.Hour

// baseStory: c0, a new guest active at the end (vpn); c1, a new guest
// whose engagement ended (blocked); c2, a member active at the end whom an
// administrator disabled; b0, a bystander in no group.
func baseStory() *Scenario {
	c0 := &Entity{ID: "c0", Email: "c0@vendor0.example"}
	c1 := &Entity{ID: "c1", Email: "c1@vendor1.example"}
	c2 := &Entity{ID: "c2", Email: "c2@vendor2.example", Account: ExistingMember}
	b0 := &Entity{ID: "b0", Email: "staff0@corp.example"}
	evs := []event.Event{
		started(c0, 0, time.Hour, 20*day, "vpn"),
		started(c1, 0, time.Hour, 2*day, "github-org"),
		started(c2, 0, time.Hour, 20*day, "contractor-access"),
	}
	return story([]*Entity{c0, c1, c2, b0}, evs, Step{At: T0.Add(day), Kind: Admin, Owner: "c2", Admin: Disable})
}

func runStory(t *testing.T, sc *Scenario, tamper func(context.Context, *run) error) *Result {
	t.Helper()
	return runStoryWith(t, sc, Options{}, tamper)
}

// runStoryWith runs a story calmly with o's backend and mode.
func runStoryWith(t *testing.T, sc *Scenario, o Options, tamper func(context.Context, *run) error) *Result {
	t.Helper()
	o.Seed, o.N, o.Dir, o.calm, o.tamper = sc.Seed, sc.N, t.TempDir(), true, tamper
	res, err := Run(context.Background(), sc, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// byPerson lists violations as "invariant person", sorted, once each.
func byPerson(vs []Violation) []string {
	var got []string
	for _, v := range vs {
		got = append(got, fmt.Sprintf("%d %s", v.Invariant, v.Entity))
	}
	slices.Sort(got)
	return slices.Compact(got) // a break seen on the wire and at the end
}

// account finds a person's account in the run's tenant.
func account(r *run, id string) string {
	u, ok := r.sys.tenant.UserByMail(r.sc.Entity(id).Email)
	if !ok {
		panic("no account for " + id)
	}
	return u.ID
}

// TestChecksSeePlantedViolations plants one break of each invariant into
// a story that otherwise keeps them all, and expects the checks to report
// exactly that break. Breaks of the request-time invariants are made by
// sending the offending request through stint's own Graph adapter.
func TestChecksSeePlantedViolations(t *testing.T) {
	if res := runStory(t, baseStory(), nil); len(res.Violations) > 0 {
		t.Fatalf("the story without tampering breaks invariants: %v", res.Violations)
	}
	tests := []struct {
		name   string
		tamper func(ctx context.Context, r *run) error
		want   []string // "invariant person"
	}{
		{"a bystander added to a group", func(_ context.Context, r *run) error {
			return r.sys.tenant.AddMember(Groups["vpn"], account(r, "b0"))
		}, []string{"1 b0"}},
		{"an active contractor removed from a group", func(_ context.Context, r *run) error {
			return r.sys.tenant.RemoveMember(Groups["vpn"], account(r, "c0"))
		}, []string{"2 c0"}},
		{"an account an administrator disabled, enabled again", func(_ context.Context, r *run) error {
			return r.sys.tenant.SetAccountEnabled(account(r, "c2"), true)
		}, []string{"3 c2"}},
		{"stint's adapter enables an account an administrator disabled", func(ctx context.Context, r *run) error {
			return r.sys.handler.Directory.SetAccountEnabled(ctx, account(r, "c2"), true)
		}, []string{"3 c2"}},
		{"a guest with nothing left can sign in", func(_ context.Context, r *run) error {
			return r.sys.tenant.SetAccountEnabled(account(r, "c1"), true)
		}, []string{"4 c1"}},
		{"stint's adapter disables a member", func(ctx context.Context, r *run) error {
			r.sys.tenant.SetUserType(account(r, "c0"), "Member")
			return r.sys.handler.Directory.SetAccountEnabled(ctx, account(r, "c0"), false)
		}, []string{"4 c0", "7 c0"}}, // and so c0, active, cannot sign in
		{"stint's adapter invites an existing user", func(ctx context.Context, r *run) error {
			_, err := r.sys.handler.Directory.Invite(ctx, engagement.Invitation{Email: r.sc.Entity("c1").Email, RedirectURL: "https://myapps.microsoft.com"})
			return err
		}, []string{"5 c1"}},
		{"an event applied twice in the audit trail", func(ctx context.Context, r *run) error {
			return r.sys.ledger.Append(ctx, engagement.AuditEntry{Contractor: "c0@vendor0.example", EventID: "c0-0-0", Action: "event.applied"})
		}, []string{"6 c0"}},
		{"an active contractor cannot sign in", func(_ context.Context, r *run) error {
			return r.sys.tenant.SetAccountEnabled(account(r, "c0"), false)
		}, []string{"7 c0"}},
	}
	for _, tt := range tests {
		// Not in parallel: building two Graph clients at once races inside
		// msgraph-sdk-go (NewGraphServiceClient sets a package global).
		t.Run(tt.name, func(t *testing.T) {
			res := runStory(t, baseStory(), tt.tamper)
			if got := byPerson(res.Violations); !slices.Equal(got, tt.want) {
				t.Errorf("violations = %v, want %v\n%v", got, tt.want, res.Violations)
			}
		})
	}
}

// TestChecksSeePlantedViolationsConcurrentDynamoDB: with the DynamoDB
// ledger and the actors at once, a break planted in the tenant (a
// bystander in a group) and one in the ledger's audit trail (an event
// applied twice) are both reported, and nothing else is.
func TestChecksSeePlantedViolationsConcurrentDynamoDB(t *testing.T) {
	o := Options{Backend: dynamoDB(t), Concurrent: true}
	res := runStoryWith(t, baseStory(), o, func(ctx context.Context, r *run) error {
		if err := r.sys.tenant.AddMember(Groups["vpn"], account(r, "b0")); err != nil {
			return err
		}
		return r.sys.ledger.Append(ctx, engagement.AuditEntry{Contractor: "c0@vendor0.example", EventID: "c0-0-0", Action: "event.applied"})
	})
	if got, want := byPerson(res.Violations), []string{"1 b0", "6 c0"}; !slices.Equal(got, want) {
		t.Errorf("violations = %v, want %v\n%v", got, want, res.Violations)
	}
}

// TestSeedReproducesRun: the same seed gives the same run, figures and
// violations alike (violation details name object ids, which the sandbox
// draws at random, so they are compared by invariant and person).
func TestSeedReproducesRun(t *testing.T) {
	run := func() (Stats, []string) {
		res, err := Run(context.Background(), Generate(7, 40), Options{Seed: 7, N: 40, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		var vs []string
		for _, v := range res.Violations {
			vs = append(vs, fmt.Sprintf("%d %s", v.Invariant, v.Entity))
		}
		slices.Sort(vs)
		return res.Stats, vs
	}
	s1, v1 := run()
	s2, v2 := run()
	if fmt.Sprint(s1) != fmt.Sprint(s2) {
		t.Errorf("figures differ between two runs of seed 7:\n%+v\n%+v", s1, s2)
	}
	if !slices.Equal(v1, v2) {
		t.Errorf("violations differ between two runs of seed 7:\n%v\n%v", v1, v2)
	}
}

// TestScenarioIsTheSeed: generating a seed twice gives the same scenario.
func TestScenarioIsTheSeed(t *testing.T) {
	a, b := Generate(99, 50), Generate(99, 50)
	if len(a.Steps) != len(b.Steps) {
		t.Fatalf("steps = %d and %d, want equal", len(a.Steps), len(b.Steps))
	}
	for i := range a.Steps {
		sa, sb := a.Steps[i], b.Steps[i]
		if sa.Seq != sb.Seq || !sa.At.Equal(sb.At) || sa.Kind != sb.Kind || sa.Owner != sb.Owner || (sa.Event == nil) != (sb.Event == nil) ||
			sa.Event != nil && sa.Event.ID != sb.Event.ID {
			t.Fatalf("step %d differs: %+v and %+v", i, sa, sb)
		}
	}
}
