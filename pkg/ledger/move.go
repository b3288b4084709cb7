package ledger

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Portable is a ledger stint migrate copies from and into: it lists all it
// holds and loads records verbatim (the SQL ledgers).
type Portable interface {
	engagement.Ledger
	Engagements(ctx context.Context) iter.Seq2[engagement.Engagement, error]
	SeenEvents(ctx context.Context) iter.Seq2[engagement.SeenEvent, error]
	Load(ctx context.Context, ch engagement.Change) error
}

// Counts is what a ledger holds.
type Counts struct {
	Contractors int `json:"contractors"`
	Engagements int `json:"engagements"`
	Seen        int `json:"seen"`
	Audit       int `json:"audit"`
	Marks       int `json:"marks"`
}

// Empty reports whether nothing is held.
func (c Counts) Empty() bool { return c == Counts{} }

// Count counts what l holds.
func Count(ctx context.Context, l Portable) (Counts, error) {
	var c Counts
	var err error
	if c.Contractors, err = count(l.Contractors(ctx)); err != nil {
		return c, err
	}
	if c.Engagements, err = count(l.Engagements(ctx)); err != nil {
		return c, err
	}
	if c.Seen, err = count(l.SeenEvents(ctx)); err != nil {
		return c, err
	}
	trail, err := l.Audit(ctx, engagement.AuditQuery{})
	if err != nil {
		return c, err
	}
	marks, err := l.Marks(ctx, "")
	c.Audit, c.Marks = len(trail), len(marks)
	return c, err
}

func count[T any](seq iter.Seq2[T, error]) (int, error) {
	n := 0
	for _, err := range seq {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// batch is how many records one Load writes.
const batch = 200

// Copy copies everything from holds into to, which must be empty, and
// checks that to then holds as much as from. Records keep their versions,
// times and ids; the audit trail keeps its order. Nothing may write to
// from meanwhile (stop stint serve first).
func Copy(ctx context.Context, from, to Portable) (Counts, error) {
	have, err := Count(ctx, to)
	if err != nil {
		return Counts{}, err
	}
	if !have.Empty() {
		return Counts{}, fault.Errorf(fault.Conflict, "the target ledger is not empty (%d contractors, %d engagements, %d audit entries, %d marks): migrate into a new database", have.Contractors, have.Engagements, have.Audit, have.Marks)
	}
	for c, err := range from.Contractors(ctx) {
		if err != nil {
			return Counts{}, err
		}
		if err := to.Load(ctx, engagement.Change{Contractor: c}); err != nil {
			return Counts{}, err
		}
	}
	if err := loadAll(ctx, to, from.Engagements(ctx), func(ch *engagement.Change, e engagement.Engagement) { ch.Engagements = append(ch.Engagements, e) }); err != nil {
		return Counts{}, err
	}
	if err := loadAll(ctx, to, from.SeenEvents(ctx), func(ch *engagement.Change, s engagement.SeenEvent) { ch.Seen = append(ch.Seen, s) }); err != nil {
		return Counts{}, err
	}
	trail, err := from.Audit(ctx, engagement.AuditQuery{})
	if err != nil {
		return Counts{}, err
	}
	for part := range slices.Chunk(trail, batch) {
		if err := to.Load(ctx, engagement.Change{Audit: part}); err != nil {
			return Counts{}, err
		}
	}
	marks, err := from.Marks(ctx, "")
	if err != nil {
		return Counts{}, err
	}
	for _, k := range slices.Sorted(maps.Keys(marks)) {
		if err := to.SetMark(ctx, k, marks[k]); err != nil {
			return Counts{}, err
		}
	}
	want, err := Count(ctx, from)
	if err != nil {
		return Counts{}, err
	}
	got, err := Count(ctx, to)
	if err != nil {
		return Counts{}, err
	}
	if got != want {
		return got, fmt.Errorf("ledger copy: the target holds %+v, the source %+v: was the source written to meanwhile? Drop the target database and migrate again with stint serve stopped", got, want)
	}
	return got, nil
}

// loadAll loads seq into to, batch records a transaction.
func loadAll[T any](ctx context.Context, to Portable, seq iter.Seq2[T, error], add func(*engagement.Change, T)) error {
	var ch engagement.Change
	n := 0
	for v, err := range seq {
		if err != nil {
			return err
		}
		add(&ch, v)
		if n++; n == batch {
			if err := to.Load(ctx, ch); err != nil {
				return err
			}
			ch, n = engagement.Change{}, 0
		}
	}
	if n == 0 {
		return nil
	}
	return to.Load(ctx, ch)
}
