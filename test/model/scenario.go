package model

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stintdev/stint/pkg/event"
)

// The simulated world's fixed points. Times are fake: the clock starts at
// T0 and only the simulation moves it.
var (
	// T0 is when the simulation starts.
	T0 = time.Date(2030, 1, 7, 0, 0, 0, 0, time.UTC)
	// Span is the random phase: events, sends and admin actions happen in
	// [T0, T0+Span]; the settling phase starts two hours after it.
	Span = 14 * 24 * time.Hour
	// SettleGap separates the random phase from the settling phase: longer
	// than the longest tick backoff (an hour) and any queue lease or
	// backoff, so that everything left is due again when settling starts.
	SettleGap = 2 * time.Hour
)

// Access keys and their groups: the STINT_GROUPS of the simulation.
var (
	Keys   = []string{"contractor-access", "github-org", "vpn"}
	Groups = map[string]string{
		"contractor-access": "0de10000-0000-4000-8000-0000000000c1",
		"github-org":        "0de10000-0000-4000-8000-0000000000c2",
		"vpn":               "0de10000-0000-4000-8000-0000000000c3",
	}
	// DefaultAccess is STINT_DEFAULT_ACCESS: what a started event without
	// access grants.
	DefaultAccess = []string{"contractor-access"}
)

// Account says what a contractor's directory account is before stint runs.
type Account int

// The kinds of contractor accounts.
const (
	// NewGuest: no account; stint invites the contractor as a guest.
	NewGuest Account = iota
	// ExistingMember: a Member account with the contractor's mail exists.
	ExistingMember
	// ExistingGuest: a Guest account (invitation accepted) exists.
	ExistingGuest
)

func (a Account) String() string {
	return [...]string{"new", "existing member", "existing guest"}[a]
}

// Entity is a person of the simulation: a contractor ("c17") or a
// bystander ("b3", an employee account that no engagement concerns).
type Entity struct {
	ID      string
	Email   string
	Account Account // contractors only
	// Groups are the access keys whose groups the account is in before
	// stint runs (pre-existing accounts only).
	Groups []string
	// Engagements are a contractor's engagement ids, in order.
	Engagements []string
}

// StepKind is what a step of the timeline does.
type StepKind int

// The kinds of steps.
const (
	// Send: the HR system sends an event (the webhook enqueues it).
	Send StepKind = iota
	// Drain: the worker handles every message visible in the queue.
	Drain
	// Tick: the sweep's tick.
	Tick
	// Reconcile: the sweep's reconcile, with the run's ghost grace.
	Reconcile
	// Admin: an administrator acts on the tenant by hand.
	Admin
)

func (k StepKind) String() string {
	return [...]string{"send", "drain", "tick", "reconcile", "admin"}[k]
}

// AdminKind is what an administrator does.
type AdminKind int

// The administrators' actions.
const (
	// AddGhost puts the target's account into a managed group.
	AddGhost AdminKind = iota
	// RemoveMember takes the target's account out of a managed group.
	RemoveMember
	// Disable blocks sign-in of the target's account (only an enabled one).
	Disable
	// Convert turns the target's guest account into a member.
	Convert
	// Delete deletes the target's account.
	Delete
)

func (k AdminKind) String() string {
	return [...]string{"add to group", "remove from group", "disable", "convert guest to member", "delete"}[k]
}

// Step is one action of the timeline. Steps with an Owner concern one
// entity and are dropped when the entity is left out (shrinking); global
// steps (drain, tick, reconcile) always run.
type Step struct {
	// Seq identifies the step; it is stable under shrinking.
	Seq   int
	At    time.Time
	Kind  StepKind
	Owner string
	// Event and Copy, for Send: the event and which sending it is (0 the
	// first, 1 a duplicate sent again later).
	Event *event.Event
	Copy  int
	// Admin and Group, for Admin.
	Admin AdminKind
	Group string
}

// Scenario is everything random about a run, drawn from one seed: the
// people, their events, and the timeline of steps.
type Scenario struct {
	Seed     uint64
	N        int
	Entities []*Entity
	byID     map[string]*Entity
	// Events by engagement id, in generation order.
	Events map[string][]event.Event
	Steps  []Step
}

// Entity returns the entity with this id.
func (s *Scenario) Entity(id string) *Entity { return s.byID[id] }

// gen draws a scenario. All draws come from one PCG stream in a fixed
// order, so a seed is a scenario.
type gen struct {
	r   *rand.Rand
	sc  *Scenario
	seq int
}

// Generate draws the scenario of seed with n contractors.
func Generate(seed uint64, n int) *Scenario {
	g := &gen{r: rand.New(rand.NewPCG(seed, 0x5717)), sc: &Scenario{Seed: seed, N: n, byID: map[string]*Entity{}, Events: map[string][]event.Event{}}}
	for i := range n {
		g.contractor(i)
	}
	for i := range max(3, n/20) {
		g.bystander(i)
	}
	for range n * 2 / 5 {
		g.admin()
	}
	g.global(Drain, 2*time.Minute, 10*time.Minute)
	g.global(Tick, 10*time.Minute, 45*time.Minute)
	g.global(Reconcile, 4*time.Hour, 10*time.Hour)
	slices.SortStableFunc(g.sc.Steps, func(a, b Step) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Seq, b.Seq))
	})
	return g.sc
}

// between draws a duration uniformly in [lo, hi], to the minute.
func (g *gen) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(g.r.Int64N(int64((hi-lo)/time.Minute)+1))*time.Minute
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func (g *gen) step(s Step) {
	g.seq++
	s.Seq = g.seq
	g.sc.Steps = append(g.sc.Steps, s)
}

func (g *gen) add(e *Entity) {
	g.sc.Entities = append(g.sc.Entities, e)
	g.sc.byID[e.ID] = e
}

// subset draws one or two access keys.
func (g *gen) subset() []string {
	keys := slices.Clone(Keys)
	g.r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	out := keys[:1+g.r.IntN(2)]
	slices.Sort(out)
	return out
}

func (g *gen) contractor(i int) {
	e := &Entity{ID: fmt.Sprintf("c%d", i), Email: fmt.Sprintf("c%d@vendor%d.example", i, i%5)}
	switch r := g.r.Float64(); {
	case r < 0.15:
		e.Account = ExistingMember
	case r < 0.30:
		e.Account = ExistingGuest
	}
	count := 1
	switch r := g.r.Float64(); {
	case r < 0.10:
		count = 3
	case r < 0.30:
		count = 2
	}
	anchor := g.between(0, Span-24*time.Hour)
	for j := range count {
		if j > 0 {
			anchor = min(max(anchor+g.between(0, 4*24*time.Hour)-24*time.Hour, 0), Span-24*time.Hour)
		}
		g.engagement(e, j, anchor)
	}
	if e.Account != NewGuest && g.chance(0.3) {
		e.Groups = []string{Keys[g.r.IntN(len(Keys))]}
	}
	g.add(e)
}

func (g *gen) bystander(i int) {
	e := &Entity{ID: fmt.Sprintf("b%d", i), Email: fmt.Sprintf("staff%d@corp.example", i)}
	if g.chance(0.5) {
		e.Groups = []string{Keys[g.r.IntN(len(Keys))]}
	}
	g.add(e)
}

// draft is an event before it becomes an event.Event.
type draft struct {
	typ      event.Type
	at       time.Duration
	startsAt *time.Duration
	endsAt   *time.Duration
	access   []string
}

func dur(d time.Duration) *time.Duration { return &d }

// engagement draws one engagement's events: a started event, extensions,
// maybe an end, maybe a reopening extension after it; times may tie; a
// few engagements lose their started event (never granted).
func (g *gen) engagement(e *Entity, j int, t0 time.Duration) {
	id := fmt.Sprintf("ENG-%s-%d", e.ID, j)
	e.Engagements = append(e.Engagements, id)
	var start time.Duration
	var startsAt *time.Duration
	switch r := g.r.Float64(); {
	case r < 0.4:
		start = t0
	case r < 0.7:
		start = t0 + g.between(time.Hour, 3*24*time.Hour)
		startsAt = dur(start)
	case r < 0.9:
		start = t0 - g.between(0, 2*24*time.Hour)
		startsAt = dur(start)
	default:
		start = t0 + g.between(time.Minute, 30*time.Minute)
		startsAt = dur(start)
	}
	length := g.between(2*time.Hour, 6*24*time.Hour)
	end := start + length
	var access []string
	if !g.chance(0.15) {
		access = g.subset()
	}
	drafts := []draft{{typ: event.Started, at: t0, startsAt: startsAt, endsAt: dur(end), access: access}}
	prev := t0
	extensions := 0
	switch r := g.r.Float64(); {
	case r < 0.15:
		extensions = 2
	case r < 0.50:
		extensions = 1
	}
	for range extensions {
		d := draft{typ: event.Extended, at: prev + g.between(10*time.Minute, max(length, time.Hour))}
		if g.chance(0.05) {
			d.at = t0 // the same time as the start: rank decides
		}
		if g.chance(0.15) {
			d.startsAt = dur(start + g.between(0, 2*24*time.Hour) - 24*time.Hour)
		}
		newEnd := end + g.between(0, 5*24*time.Hour) - 24*time.Hour
		floor := d.at // an extension ends after it was recorded (the parser's rule)
		if d.startsAt != nil {
			floor = max(floor, *d.startsAt)
		}
		if newEnd <= floor {
			newEnd = floor + g.between(30*time.Minute, 2*24*time.Hour)
		}
		d.endsAt = dur(newEnd)
		if g.chance(0.3) {
			d.access = g.subset()
		}
		drafts = append(drafts, d)
		prev, end = max(prev, d.at), newEnd
	}
	if g.chance(0.35) {
		d := draft{typ: event.Ended, at: t0 + g.between(10*time.Minute, length+24*time.Hour)}
		if g.chance(0.1) {
			d.at = drafts[g.r.IntN(len(drafts))].at // a tie with an earlier event
		}
		switch r := g.r.Float64(); {
		case r < 0.25:
			d.endsAt = dur(d.at + g.between(time.Hour, 2*24*time.Hour))
		case r < 0.5:
			d.endsAt = dur(d.at - g.between(0, 12*time.Hour))
		}
		drafts = append(drafts, d)
		if g.chance(0.3) {
			at := d.at + g.between(time.Minute, 24*time.Hour)
			r := draft{typ: event.Extended, at: at, endsAt: dur(at + g.between(time.Hour, 3*24*time.Hour))}
			if g.chance(0.3) {
				r.access = g.subset()
			}
			drafts = append(drafts, r)
		}
	}
	if g.chance(0.03) {
		drafts = drafts[1:] // HR never sent the start: never granted
	}
	for k, d := range drafts {
		ev := d.event(fmt.Sprintf("%s-%d-%d", e.ID, j, k), id, e)
		g.sc.Events[id] = append(g.sc.Events[id], ev)
		if d.at > Span-10*time.Minute || d.at < 0 {
			continue // recorded after the random phase: never sent
		}
		g.sends(e, ev, d.at)
	}
}

func (d draft) event(evID, engID string, e *Entity) event.Event {
	at := func(x time.Duration) *time.Time { t := T0.Add(x); return &t }
	ev := event.Event{
		SpecVersion: event.SpecVersion, ID: evID, Source: "hr/model", Type: d.typ, Time: T0.Add(d.at),
		Subject: engID, DataContentType: "application/json",
		Data: event.Data{EngagementID: engID, Contractor: event.Contractor{Email: e.Email, DisplayName: "Contractor " + strings.TrimPrefix(e.ID, "c")},
			Access: d.access},
	}
	if d.startsAt != nil {
		ev.Data.StartsAt = at(*d.startsAt)
	}
	if d.endsAt != nil {
		ev.Data.EndsAt = at(*d.endsAt)
	}
	return ev
}

// sends schedules an event's sending: mostly within minutes, sometimes
// hours or days late (so events of one engagement arrive out of order),
// and sometimes twice.
func (g *gen) sends(e *Entity, ev event.Event, at time.Duration) {
	var delay time.Duration
	switch r := g.r.Float64(); {
	case r < 0.6:
		delay = g.between(0, 5*time.Minute)
	case r < 0.9:
		delay = g.between(5*time.Minute, 6*time.Hour)
	default:
		delay = g.between(6*time.Hour, 2*24*time.Hour)
	}
	first := min(at+delay, Span)
	evp := &ev
	g.step(Step{At: T0.Add(first), Kind: Send, Owner: e.ID, Event: evp})
	if g.chance(0.1) {
		g.step(Step{At: T0.Add(min(first+g.between(0, 24*time.Hour), Span)), Kind: Send, Owner: e.ID, Event: evp, Copy: 1})
	}
}

// admin draws one administrator action, at a time near the target's
// engagements so that it meets them.
func (g *gen) admin() {
	kind := AddGhost
	switch r := g.r.Float64(); {
	case r < 0.30:
	case r < 0.55:
		kind = RemoveMember
	case r < 0.70:
		kind = Disable
	case r < 0.85:
		kind = Convert
	default:
		kind = Delete
	}
	var target *Entity
	contractors := g.sc.N
	if kind == AddGhost && g.chance(0.4) || contractors == 0 {
		target = g.sc.byID[fmt.Sprintf("b%d", g.r.IntN(max(3, g.sc.N/20)))]
	} else {
		target = g.sc.byID[fmt.Sprintf("c%d", g.r.IntN(contractors))]
	}
	lo, hi := time.Duration(0), Span
	if evs := g.window(target); evs[1] > 0 {
		lo, hi = max(evs[0]-time.Hour, 0), min(evs[1]+12*time.Hour, Span)
	}
	g.step(Step{At: T0.Add(g.between(lo, hi)), Kind: Admin, Owner: target.ID, Admin: kind, Group: Keys[g.r.IntN(len(Keys))]})
}

// window is the span of a contractor's event times and ends, as offsets.
func (g *gen) window(e *Entity) [2]time.Duration {
	var w [2]time.Duration
	first := true
	for _, id := range e.Engagements {
		for _, ev := range g.sc.Events[id] {
			at := ev.Time.Sub(T0)
			if first || at < w[0] {
				w[0] = at
			}
			first = false
			last := at
			if ev.Data.EndsAt != nil {
				last = max(last, ev.Data.EndsAt.Sub(T0))
			}
			w[1] = max(w[1], last)
		}
	}
	return w
}

// global schedules a global step every lo..hi over the random phase.
func (g *gen) global(kind StepKind, lo, hi time.Duration) {
	for at := g.between(0, hi); at <= Span; at += g.between(lo, hi) {
		g.step(Step{At: T0.Add(at), Kind: kind})
	}
}

// Clock is the simulation's fake clock: every part of stint reads it, and
// only the simulation moves it (never while units of work run at once).
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock; it never goes back.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

// stamp prints a time as day and hour of the simulation: "d03 14:05".
func stamp(t time.Time) string {
	d := t.Sub(T0)
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("%sd%02d %02d:%02d", sign, int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute))
}
