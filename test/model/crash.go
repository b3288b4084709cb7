package model

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
)

// The crash model. A unit of work (one delivery, one tick, one reconcile)
// may crash after the k-th effect concerning one person: a Graph request
// about them that the tenant answered (the answer is lost), or a ledger
// write about them that committed. Whether and where is decided per
// person and unit, so a person's crash does not move when other people
// are left out (shrinking). From the crash on the process is dead: every
// Graph request and ledger operation fails, nothing more reaches the
// tenant or the ledger, and the harness neither acknowledges nor retries
// the message (its lease ends and the queue hands it out again). The next
// unit starts a fresh process.

// errCrashed is what a dead process's operations return.
var errCrashed = errors.New("model: the process crashed (simulated)")

type crash struct {
	// decide returns after how many of a person's effects the unit
	// crashes (0: never); nil when the unit cannot crash.
	decide func(who string) int
	left   map[string]int
	dead   bool
	// at says what the last effect was, for the history.
	at string
}

// arm starts a unit of work; decide may be nil.
func (c *crash) arm(decide func(who string) int) {
	c.decide, c.left, c.dead, c.at = decide, map[string]int{}, false, ""
}

// effect counts one effect concerning these people; it reports whether
// the process dies with it.
func (c *crash) effect(what string, who []string) bool {
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
// effects; a dead process's operations fail.
type crashLedger struct {
	engagement.Ledger
	c *crash
	// who names the person a contractor key, audit entry or mark concerns.
	who func(key string) []string
}

func (l *crashLedger) write(what, key string, err error) error {
	if err == nil {
		l.c.effect("after ledger "+what, l.who(key))
	}
	return err
}

func (l *crashLedger) Engagement(ctx context.Context, id string) (engagement.Engagement, error) {
	if l.c.dead {
		return engagement.Engagement{}, errCrashed
	}
	return l.Ledger.Engagement(ctx, id)
}

func (l *crashLedger) Commit(ctx context.Context, ch engagement.Change) (engagement.Contractor, []engagement.Engagement, error) {
	if l.c.dead {
		return engagement.Contractor{}, nil, errCrashed
	}
	c, engs, err := l.Ledger.Commit(ctx, ch)
	return c, engs, l.write("Commit "+ch.Contractor.Key, ch.Contractor.Key, err)
}

func (l *crashLedger) Seen(ctx context.Context, key string) (engagement.SeenEvent, error) {
	if l.c.dead {
		return engagement.SeenEvent{}, errCrashed
	}
	return l.Ledger.Seen(ctx, key)
}

func (l *crashLedger) ContractorEngagements(ctx context.Context, key string) ([]engagement.Engagement, error) {
	if l.c.dead {
		return nil, errCrashed
	}
	return l.Ledger.ContractorEngagements(ctx, key)
}

func (l *crashLedger) Due(ctx context.Context, now time.Time, limit int) ([]engagement.Engagement, error) {
	if l.c.dead {
		return nil, errCrashed
	}
	return l.Ledger.Due(ctx, now, limit)
}

func (l *crashLedger) Active(ctx context.Context) iter.Seq2[engagement.Engagement, error] {
	if l.c.dead {
		return func(yield func(engagement.Engagement, error) bool) { yield(engagement.Engagement{}, errCrashed) }
	}
	return l.Ledger.Active(ctx)
}

func (l *crashLedger) Contractors(ctx context.Context) iter.Seq2[engagement.Contractor, error] {
	if l.c.dead {
		return func(yield func(engagement.Contractor, error) bool) { yield(engagement.Contractor{}, errCrashed) }
	}
	return l.Ledger.Contractors(ctx)
}

func (l *crashLedger) Contractor(ctx context.Context, key string) (engagement.Contractor, error) {
	if l.c.dead {
		return engagement.Contractor{}, errCrashed
	}
	return l.Ledger.Contractor(ctx, key)
}

func (l *crashLedger) PutContractor(ctx context.Context, c engagement.Contractor) (engagement.Contractor, error) {
	if l.c.dead {
		return engagement.Contractor{}, errCrashed
	}
	out, err := l.Ledger.PutContractor(ctx, c)
	return out, l.write("PutContractor "+c.Key, c.Key, err)
}

func (l *crashLedger) Append(ctx context.Context, entries ...engagement.AuditEntry) error {
	if l.c.dead {
		return errCrashed
	}
	what, key := "Append", ""
	if len(entries) > 0 {
		what, key = "Append "+string(entries[0].Action), entries[0].Contractor
	}
	return l.write(what, key, l.Ledger.Append(ctx, entries...))
}

func (l *crashLedger) Audit(ctx context.Context, q engagement.AuditQuery) ([]engagement.AuditEntry, error) {
	if l.c.dead {
		return nil, errCrashed
	}
	return l.Ledger.Audit(ctx, q)
}

func (l *crashLedger) Marks(ctx context.Context, prefix string) (map[string]string, error) {
	if l.c.dead {
		return nil, errCrashed
	}
	return l.Ledger.Marks(ctx, prefix)
}

func (l *crashLedger) SetMark(ctx context.Context, key, value string) error {
	if l.c.dead {
		return errCrashed
	}
	return l.write("SetMark "+key, key, l.Ledger.SetMark(ctx, key, value))
}

func (l *crashLedger) DeleteMark(ctx context.Context, key string) error {
	if l.c.dead {
		return errCrashed
	}
	return l.write("DeleteMark "+key, key, l.Ledger.DeleteMark(ctx, key))
}

// crashDeadLetters is the dead-letter list as a process that may crash
// sees it.
type crashDeadLetters struct {
	q Queue
	c *crash
	// noted hears of every message dead-lettered.
	noted func(m engagement.Message, reason error)
}

func (d crashDeadLetters) DeadLetter(ctx context.Context, m engagement.Message, reason error) error {
	if d.c.dead {
		return errCrashed
	}
	err := d.q.DeadLetter(ctx, m, reason)
	if err == nil {
		d.noted(m, reason)
	}
	return err
}
