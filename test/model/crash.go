package model

import (
	"context"
	"errors"
	"iter"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// The crash model. A unit of work (one delivery, one tick, one reconcile)
// may crash after the k-th effect concerning one person: a Graph request
// about them that the tenant answered (the answer is lost), or a ledger
// write about them that committed. Whether and where is decided per
// person and unit, so a person's crash does not move when other people
// are left out (shrinking). From the crash on the process is dead: every
// Graph request and ledger operation of the unit fails, nothing more of it
// reaches the tenant or the ledger, and the harness neither acknowledges
// nor retries the message (its lease ends and the queue hands it out
// again). The next unit starts a fresh process; units running at the same
// time (the concurrent mode) are other processes and go on.

// errCrashed is what a dead process's operations return.
var errCrashed = errors.New("model: the process crashed (simulated)")

// crash is the fate of one unit of work. It travels in the unit's context,
// so that the ledger and the wire know whose effect they see when several
// units run at once (the concurrent mode); a context without one never
// crashes. A tick's parallel settles share their unit's crash: the whole
// invocation dies.
type crash struct {
	mu sync.Mutex
	// decide returns after how many of a person's effects the unit
	// crashes (0: never); nil when the unit cannot crash.
	decide func(who string) int
	left   map[string]int
	dead   bool
	// at says what the last effect was, for the history.
	at string
	// held are the contractors this unit found claimed by another settle,
	// with the claim's token; claims are the tokens of the claims it took.
	held   map[string]string
	claims []string
}

type crashKey struct{}

// withCrash starts a unit of work that crashes as decide says (nil: it
// does not).
func withCrash(ctx context.Context, decide func(who string) int) (context.Context, *crash) {
	c := &crash{decide: decide, left: map[string]int{}, held: map[string]string{}}
	return context.WithValue(ctx, crashKey{}, c), c
}

// crashOf is the unit a context belongs to; nil outside any unit.
func crashOf(ctx context.Context) *crash {
	c, _ := ctx.Value(crashKey{}).(*crash)
	return c
}

// isDead reports whether the unit has crashed.
func (c *crash) isDead() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

// state says whether the unit crashed, and after what.
func (c *crash) state() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead, c.at
}

// met notes that the unit found a contractor claimed by another settle.
func (c *crash) met(key, token string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.held[key] = token
	c.mu.Unlock()
}

// metHeld lists the tokens of the claims the unit found held.
func (c *crash) metHeld() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Collect(maps.Values(c.held))
}

// took notes a claim the unit took.
func (c *crash) took(token string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.claims = append(c.claims, token)
	c.mu.Unlock()
}

// taken lists the claims the unit took.
func (c *crash) taken() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.claims)
}

// effect counts one effect concerning these people; it reports whether
// the process dies with it.
func (c *crash) effect(what string, who []string) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.decide == nil {
		return false
	}
	for _, w := range who {
		k, ok := c.left[w]
		if !ok {
			k = c.decide(w)
		}
		if k <= 0 {
			c.left[w] = 0
			continue
		}
		c.left[w] = k - 1
		if k == 1 {
			c.decide, c.dead, c.at = nil, true, what
			return true
		}
	}
	return false
}

// crashLedger is the ledger of a process that may crash: writes count as
// effects of the unit in the context; a dead unit's operations fail.
type crashLedger struct {
	engagement.Ledger
	// who names the person a contractor key, audit entry or mark concerns.
	who func(key string) []string
	// now is the simulation's clock, to tell a held claim from an expired
	// one; conflict hears of every conditional write lost to another
	// writer.
	now      func() time.Time
	conflict func()
}

func (l *crashLedger) write(ctx context.Context, what, key string, err error) error {
	if fault.Is(err, fault.Conflict) {
		l.conflict()
	}
	if err == nil {
		crashOf(ctx).effect("after ledger "+what, l.who(key))
	}
	return err
}

func dead(ctx context.Context) bool { return crashOf(ctx).isDead() }

func (l *crashLedger) Engagement(ctx context.Context, id string) (engagement.Engagement, error) {
	if dead(ctx) {
		return engagement.Engagement{}, errCrashed
	}
	return l.Ledger.Engagement(ctx, id)
}

func (l *crashLedger) Commit(ctx context.Context, ch engagement.Change) (engagement.Contractor, []engagement.Engagement, error) {
	if dead(ctx) {
		return engagement.Contractor{}, nil, errCrashed
	}
	c, engs, err := l.Ledger.Commit(ctx, ch)
	return c, engs, l.write(ctx, "Commit "+ch.Contractor.Key, ch.Contractor.Key, err)
}

func (l *crashLedger) Seen(ctx context.Context, key string) (engagement.SeenEvent, error) {
	if dead(ctx) {
		return engagement.SeenEvent{}, errCrashed
	}
	return l.Ledger.Seen(ctx, key)
}

func (l *crashLedger) ContractorEngagements(ctx context.Context, key string) ([]engagement.Engagement, error) {
	if dead(ctx) {
		return nil, errCrashed
	}
	return l.Ledger.ContractorEngagements(ctx, key)
}

func (l *crashLedger) Due(ctx context.Context, now time.Time, limit int) ([]engagement.Engagement, error) {
	if dead(ctx) {
		return nil, errCrashed
	}
	return l.Ledger.Due(ctx, now, limit)
}

func (l *crashLedger) Active(ctx context.Context) iter.Seq2[engagement.Engagement, error] {
	if dead(ctx) {
		return func(yield func(engagement.Engagement, error) bool) { yield(engagement.Engagement{}, errCrashed) }
	}
	return l.Ledger.Active(ctx)
}

func (l *crashLedger) Contractors(ctx context.Context) iter.Seq2[engagement.Contractor, error] {
	if dead(ctx) {
		return func(yield func(engagement.Contractor, error) bool) { yield(engagement.Contractor{}, errCrashed) }
	}
	return l.Ledger.Contractors(ctx)
}

// Contractor also notes, for the figures, a contractor found claimed by
// another settle: a worker then waits for the claim, a sweep leaves the
// contractor to its holder.
func (l *crashLedger) Contractor(ctx context.Context, key string) (engagement.Contractor, error) {
	if dead(ctx) {
		return engagement.Contractor{}, errCrashed
	}
	c, err := l.Ledger.Contractor(ctx, key)
	if err == nil && c.ClaimedBy != "" && l.now().Before(c.ClaimedUntil) {
		crashOf(ctx).met(key, c.ClaimedBy)
	}
	return c, err
}

func (l *crashLedger) PutContractor(ctx context.Context, c engagement.Contractor) (engagement.Contractor, error) {
	if dead(ctx) {
		return engagement.Contractor{}, errCrashed
	}
	out, err := l.Ledger.PutContractor(ctx, c)
	if err == nil && c.ClaimedBy != "" {
		crashOf(ctx).took(c.ClaimedBy)
	}
	return out, l.write(ctx, "PutContractor "+c.Key, c.Key, err)
}

func (l *crashLedger) Append(ctx context.Context, entries ...engagement.AuditEntry) error {
	if dead(ctx) {
		return errCrashed
	}
	what, key := "Append", ""
	if len(entries) > 0 {
		what, key = "Append "+string(entries[0].Action), entries[0].Contractor
	}
	return l.write(ctx, what, key, l.Ledger.Append(ctx, entries...))
}

func (l *crashLedger) Audit(ctx context.Context, q engagement.AuditQuery) ([]engagement.AuditEntry, error) {
	if dead(ctx) {
		return nil, errCrashed
	}
	return l.Ledger.Audit(ctx, q)
}

func (l *crashLedger) Marks(ctx context.Context, prefix string) (map[string]string, error) {
	if dead(ctx) {
		return nil, errCrashed
	}
	return l.Ledger.Marks(ctx, prefix)
}

func (l *crashLedger) SetMark(ctx context.Context, key, value string) error {
	if dead(ctx) {
		return errCrashed
	}
	return l.write(ctx, "SetMark "+key, key, l.Ledger.SetMark(ctx, key, value))
}

func (l *crashLedger) DeleteMark(ctx context.Context, key string) error {
	if dead(ctx) {
		return errCrashed
	}
	return l.write(ctx, "DeleteMark "+key, key, l.Ledger.DeleteMark(ctx, key))
}

// crashDeadLetters is the dead-letter list as a process that may crash
// sees it.
type crashDeadLetters struct {
	q Queue
	// noted hears of every message dead-lettered.
	noted func(m engagement.Message, reason error)
}

func (d crashDeadLetters) DeadLetter(ctx context.Context, m engagement.Message, reason error) error {
	if dead(ctx) {
		return errCrashed
	}
	err := d.q.DeadLetter(ctx, m, reason)
	if err == nil {
		d.noted(m, reason)
	}
	return err
}
