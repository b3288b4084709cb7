package model

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Shrunk is the smallest run found that still breaks an invariant.
type Shrunk struct {
	Violation Violation
	// Only and Drop reproduce it (see Options).
	Only []string
	Drop []int
	// Runs is how many runs shrinking took.
	Runs   int
	Result *Result
}

// reproduces reports whether res breaks v's invariant for v's entity.
func reproduces(res *Result, v Violation) bool {
	return slices.ContainsFunc(res.Violations, func(w Violation) bool {
		return w.Invariant == v.Invariant && w.Entity == v.Entity
	})
}

// Shrink looks for a small run that still breaks v: first the people
// concerned alone (cheap, and usually enough: faults, crashes and
// deliveries are decided per person), else a delta-debugging search over
// the people; then it leaves out, one at a time, each step of the people
// kept (a send, a duplicate, an administrator's action) that the break
// does not need. Global steps (drains, ticks, reconciles) stay. It stops
// at the budget and returns the smallest run found, traced.
func Shrink(ctx context.Context, sc *Scenario, base Options, v Violation, budget time.Duration) (*Shrunk, error) {
	deadline := time.Now().Add(budget)
	s := &Shrunk{Violation: v}
	try := func(only []string, drop map[int]bool) (bool, error) {
		s.Runs++
		o := base
		o.Only, o.Drop, o.Trace = set(only), drop, false
		dir, err := os.MkdirTemp(base.Dir, "shrink-")
		if err != nil {
			return false, err
		}
		defer os.RemoveAll(dir)
		o.Dir = dir
		res, err := Run(ctx, sc, o)
		if err != nil {
			return false, err
		}
		return reproduces(res, v), nil
	}
	var everyone []string
	for _, e := range sc.Entities {
		if base.Only == nil || base.Only[e.ID] {
			everyone = append(everyone, e.ID)
		}
	}
	only := everyone
	if sc.Entity(v.Entity) != nil {
		ok, err := try([]string{v.Entity}, base.Drop)
		if err != nil {
			return nil, err
		}
		if ok {
			only = []string{v.Entity}
		} else if only, err = ddmin(everyone, v.Entity, deadline, func(c []string) (bool, error) { return try(c, base.Drop) }); err != nil {
			return nil, err
		}
	}
	drop := map[int]bool{}
	for k := range base.Drop {
		drop[k] = true
	}
	kept := set(only)
	for i := len(sc.Steps) - 1; i >= 0 && time.Now().Before(deadline); i-- {
		st := sc.Steps[i]
		if st.Owner == "" || !kept[st.Owner] || drop[st.Seq] {
			continue
		}
		drop[st.Seq] = true
		ok, err := try(only, drop)
		if err != nil {
			return nil, err
		}
		if !ok {
			delete(drop, st.Seq)
		}
	}
	o := base
	o.Only, o.Drop, o.Trace = set(only), drop, true
	dir, err := os.MkdirTemp(base.Dir, "shrunk-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	o.Dir = dir
	if s.Result, err = Run(ctx, sc, o); err != nil {
		return nil, err
	}
	s.Runs++
	s.Only = only
	for k := range drop {
		s.Drop = append(s.Drop, k)
	}
	slices.Sort(s.Drop)
	return s, nil
}

// ddmin finds a small subset of people (always holding must) for which
// fails holds, by Zeller's delta debugging over complements and halves.
func ddmin(all []string, must string, deadline time.Time, fails func([]string) (bool, error)) ([]string, error) {
	cur := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == must })
	with := func(c []string) []string { return append([]string{must}, c...) }
	n := 2
	for len(cur) > 0 && time.Now().Before(deadline) {
		chunk := (len(cur) + n - 1) / n
		reduced := false
		for start := 0; start < len(cur) && time.Now().Before(deadline); start += chunk {
			part := cur[start:min(start+chunk, len(cur))]
			rest := slices.Concat(cur[:start], cur[min(start+chunk, len(cur)):])
			for _, cand := range [][]string{part, rest} {
				ok, err := fails(with(cand))
				if err != nil {
					return nil, err
				}
				if ok {
					cur, reduced = slices.Clone(cand), true
					n = max(n-1, 2)
					break
				}
			}
			if reduced {
				break
			}
		}
		if !reduced {
			if n >= len(cur) {
				break
			}
			n = min(n*2, len(cur))
		}
	}
	return with(cur), nil
}

func set(ids []string) map[string]bool {
	if ids == nil {
		return nil
	}
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// Report prints a shrunk break: the seed, how to re-run it, and the
// history of the small run.
func (s *Shrunk) Report(o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, N=%d: %s\n", o.Seed, o.N, s.Violation)
	drop := make([]string, len(s.Drop))
	for i, d := range s.Drop {
		drop[i] = strconv.Itoa(d)
	}
	fmt.Fprintf(&b, "shrunk in %d runs to %d person(s): %s", s.Runs, len(s.Only), strings.Join(s.Only, ","))
	if len(drop) > 0 {
		fmt.Fprintf(&b, ", %d step(s) left out", len(drop))
	}
	fmt.Fprintf(&b, "\nre-run: %s ONLY=%s", o.Rerun(), strings.Join(s.Only, ","))
	if len(drop) > 0 {
		fmt.Fprintf(&b, " DROP=%s", strings.Join(drop, ","))
	}
	if !reproduces(s.Result, s.Violation) {
		b.WriteString("\n(the traced re-run did not break it again: the history below may not show it)")
	}
	if o.Concurrent {
		b.WriteString("\n(actors at once: a seed is a scenario, not a run, so a re-run may interleave otherwise and not break it)")
	}
	b.WriteString("\nhistory (lines about these people; global steps that did nothing for them are left out):\n")
	kept := set(s.Only)
	for _, l := range s.Result.Lines {
		if slices.ContainsFunc(l.Who, func(w string) bool { return kept[w] || w == "*" }) {
			fmt.Fprintf(&b, "  %s  %s\n", stamp(l.At), l.Text)
		}
	}
	return b.String()
}
