package model

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/sandbox"
)

// Rates of the random phase. Faults are per Graph request; a crash or a
// lost acknowledgement per unit of work.
const (
	faultRate     = 0.08
	crashDeliver  = 0.05
	crashTick     = 0.02 // per person the sweep acts on
	crashRecon    = 0.02
	lostAckRate   = 0.04
	unitDeadline  = 10 * time.Second // below the 12 s Retry-After, so such waits surface
	settleTimeout = 10 * time.Minute
	settleRounds  = 6
)

// Options choose a run.
type Options struct {
	Seed uint64
	N    int
	// Backend is the ledger and queue (default SQLite).
	Backend Backend
	// Concurrent runs the random phase in windows of simulated time, the
	// worker, the tick and the reconcile of each window at once (see
	// doc.go); a seed is then a scenario, not a run.
	Concurrent bool
	// Only keeps these entities (contractors "c17", bystanders "b3") and
	// drops every step of the others; nil keeps everyone.
	Only map[string]bool
	// Drop leaves these steps (by Seq) out.
	Drop map[int]bool
	// Trace keeps the run's history as readable lines.
	Trace bool
	// Dir holds the ledger; it must be empty.
	Dir string
	// Log, when set, receives stint's own JSON log lines.
	Log io.Writer

	// calm turns faults, crashes and lost acknowledgements off, and tamper
	// changes the world after settling, before the checks: the harness's
	// own tests plant a violation and expect the checks to find it.
	calm   bool
	tamper func(ctx context.Context, r *run) error
}

// Rerun is the command that runs these options again (ONLY and DROP
// aside): make model with the size, the seed, and the backend and mode
// when they are not the default (SQLite runs one actor at a time,
// DynamoDB runs them at once).
func (o Options) Rerun() string {
	cmd := fmt.Sprintf("make model N=%d SEED=%d", o.N, o.Seed)
	backend := "sqlite"
	if o.Backend != nil {
		backend = o.Backend.Name()
	}
	if backend != "sqlite" {
		cmd += " BACKEND=" + backend
	}
	if o.Concurrent != (backend == "dynamodb") {
		cmd += fmt.Sprintf(" CONCURRENT=%d", btoi(o.Concurrent))
	}
	return cmd
}

// Stats are a run's figures.
type Stats struct {
	Contractors, Bystanders, Engagements int
	// Events are distinct events sent; Sends count every sending.
	Events, Sends, DuplicateSends int
	// Deliveries count every time the worker was handed a message;
	// Redeliveries those of a message it had been handed before.
	Deliveries, Redeliveries   int
	LostAcks, Crashes, Retries int
	DeadLettered, Replayed     int
	// DeadLetterReasons counts dead-letter reasons, object ids left out.
	DeadLetterReasons          map[string]int
	Faults                     map[string]int
	GraphRequests, GraphWrites int
	Admin                      map[string]int
	AdminSkipped               int
	Ticks, Reconciles          int
	SettleRounds               int
	// Contention: deliveries that found their contractor claimed by
	// another settle and waited, then applied their event (ClaimWaits),
	// or gave up waiting and were retried — on the claim of a settle still
	// running (BusyLive), of a unit that crashed (BusyDead), or of a unit
	// that ended without releasing it (BusyLeft); contractors a tick or a
	// reconcile found claimed and left to the holder (SweepLeft);
	// conditional ledger writes lost to another writer (Conflicts).
	ClaimWaits, BusyLive, BusyDead, BusyLeft, SweepLeft, Conflicts int
	// Windows is how many windows of the concurrent mode had actors.
	Windows int
}

// FaultCount is the number of faults injected.
func (s Stats) FaultCount() int {
	n := 0
	for _, v := range s.Faults {
		n += v
	}
	return n
}

// AdminCount is the number of administrator actions carried out.
func (s Stats) AdminCount() int {
	n := 0
	for _, v := range s.Admin {
		n += v
	}
	return n
}

// Line is one line of a run's history.
type Line struct {
	At   time.Time
	Text string
	// Who are the people the line concerns; none for global lines.
	Who []string
}

// Result is what a run found.
type Result struct {
	Stats      Stats
	Violations []Violation
	Lines      []Line
	Wall       time.Duration
}

// run is one simulation in progress. In the concurrent mode several
// units of work use it at once: mu guards the books (names, counts,
// figures, what stint resolved), and is held by the wire for a whole Graph
// request; logMu guards the history and the violations, and is taken
// last.
type run struct {
	opts  Options
	sc    *Scenario
	clock *Clock
	sys   system
	wire  *wire
	mu    sync.Mutex
	logMu sync.Mutex

	// names maps object ids (lower case) to entities and group ids to keys.
	names   map[string]string
	byEmail map[string]string
	// occur counts requests by what they do, for fault decisions.
	occur     map[string]int
	faultRate float64
	settling  bool
	// unit numbers units of work.
	unit int
	// failures counts failed deliveries and sweeps (and incomplete sweeps).
	failures int

	// ended are the claims of units that have ended: "crashed", or
	// "ended" (normally).
	ended         map[string]string
	accepted      map[string][]event.Event // by engagement
	acceptedIDs   map[string]bool
	deliveries    map[string]int
	adminDisabled map[string]time.Time // account id -> when
	knew          map[string]bool      // accounts stint resolved
	violations    []Violation
	stats         Stats
	lines         []Line
}

// Run plays a scenario against stint and checks the invariants.
func Run(ctx context.Context, sc *Scenario, opts Options) (*Result, error) {
	begin := time.Now()
	r := &run{opts: opts, sc: sc, clock: &Clock{t: T0},
		names: map[string]string{}, byEmail: map[string]string{}, occur: map[string]int{},
		accepted: map[string][]event.Event{}, acceptedIDs: map[string]bool{}, ended: map[string]string{},
		deliveries: map[string]int{}, adminDisabled: map[string]time.Time{}, knew: map[string]bool{},
		stats: Stats{Faults: map[string]int{}, Admin: map[string]int{}, DeadLetterReasons: map[string]int{}}}
	defer r.sys.close()
	if err := r.start(ctx); err != nil {
		return nil, err
	}
	// Faults begin after start-up: a process whose first Graph requests
	// fail stops before it does anything (the host's start is not what is
	// checked here).
	r.faultRate = faultRate * float64(btoi(!opts.calm))
	r.seed()
	var steps []Step
	for _, st := range sc.Steps {
		if !opts.Drop[st.Seq] && (st.Owner == "" || r.keeps(st.Owner)) {
			steps = append(steps, st)
		}
	}
	play := r.play
	if opts.Concurrent {
		play = r.playConcurrently
	}
	if err := play(ctx, steps); err != nil {
		return nil, err
	}
	if err := r.settle(ctx); err != nil {
		return nil, err
	}
	if opts.tamper != nil {
		if err := opts.tamper(ctx, r); err != nil {
			return nil, err
		}
	}
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	res := &Result{Stats: r.stats, Violations: r.violations, Lines: r.lines, Wall: time.Since(begin)}
	return res, nil
}

func (r *run) keeps(id string) bool { return r.opts.Only == nil || r.opts.Only[id] }

// play runs the random phase one step at a time.
func (r *run) play(ctx context.Context, steps []Step) error {
	for _, st := range steps {
		r.clock.Set(st.At)
		if err := r.step(ctx, st); err != nil {
			return fmt.Errorf("model: step %d (%s at %s): %w", st.Seq, st.Kind, stamp(st.At), err)
		}
	}
	return nil
}

// seed puts the accounts that exist before stint runs into the tenant.
func (r *run) seed() {
	for _, e := range r.sc.Entities {
		if !r.keeps(e.ID) {
			continue
		}
		r.byEmail[strings.ToLower(e.Email)] = e.ID
		if strings.HasPrefix(e.ID, "c") {
			r.stats.Contractors++
			r.stats.Engagements += len(e.Engagements)
		} else {
			r.stats.Bystanders++
		}
		if strings.HasPrefix(e.ID, "c") && e.Account == NewGuest {
			continue
		}
		u := sandbox.User{Mail: e.Email, DisplayName: e.ID, UserType: "Member", AccountEnabled: true}
		if e.Account == ExistingGuest {
			u.UserType = "Guest"
		}
		u = r.sys.tenant.AddUser(u)
		r.names[strings.ToLower(u.ID)] = e.ID
		for _, key := range e.Groups {
			_ = r.sys.tenant.AddMember(Groups[key], u.ID)
		}
		r.linef(e.ID, "seed: %s has a %s account %s, in %v", e.ID, strings.ToLower(u.UserType), u.ID, e.Groups)
	}
}

// linef adds a history line (only when tracing) about who, and about
// every person the text names.
func (r *run) linef(who string, format string, args ...any) {
	if !r.opts.Trace {
		return
	}
	l := Line{At: r.clock.Now(), Text: fmt.Sprintf(format, args...)}
	if who != "" {
		l.Who = append(l.Who, who)
	}
	for _, w := range r.mentions(l.Text) {
		if !slices.Contains(l.Who, w) {
			l.Who = append(l.Who, w)
		}
	}
	r.logMu.Lock()
	r.lines = append(r.lines, l)
	r.logMu.Unlock()
}

// mentions lists the people a text names ("c17", "b3").
func (r *run) mentions(text string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(text, func(c rune) bool { return !unicode.IsLetter(c) && !unicode.IsDigit(c) }) {
		if r.sc.Entity(w) != nil && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// keyOwner names the person a ledger key concerns: a contractor key (the
// email), or a mark ("tick/retry/<email>", "ghost/<group>/<account>").
func (r *run) keyOwner(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.byEmail[key]; ok {
		return []string{e}
	}
	if i := strings.LastIndex(key, "/"); i >= 0 {
		last := key[i+1:]
		if e, ok := r.byEmail[last]; ok {
			return []string{e}
		}
		if e, ok := r.names[strings.ToLower(last)]; ok {
			return []string{e}
		}
	}
	return nil
}

// entityOf finds whose address an account holds.
func (r *run) entityOf(u sandbox.User) string {
	if e, ok := r.byEmail[strings.ToLower(u.Mail)]; ok {
		return e
	}
	for _, m := range u.OtherMails {
		if e, ok := r.byEmail[strings.ToLower(m)]; ok {
			return e
		}
	}
	if alias, _, ok := strings.Cut(strings.ToLower(u.UserPrincipalName), "#ext#@"); ok {
		if at := strings.LastIndex(alias, "_"); at > 0 {
			if e, ok := r.byEmail[alias[:at]+"@"+alias[at+1:]]; ok {
				return e
			}
		}
	}
	return ""
}

// owner maps an engagement id ("ENG-c17-1") to its contractor ("c17").
func owner(eng string) string {
	id := strings.TrimPrefix(eng, "ENG-")
	if i := strings.LastIndex(id, "-"); i > 0 {
		return id[:i]
	}
	return id
}

// sortedKeys is a small helper for stable output.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
