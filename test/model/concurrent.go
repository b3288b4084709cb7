package model

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// The concurrent mode's random phase: the timeline is cut into windows of
// simulated time; each window's sends and administrators' actions happen
// first, one at a time, then its actors — its drains as several workers,
// its ticks, its reconciles — run at once, on a clock that stands still
// until the last of them is done.
const (
	// window is the simulated time whose actors run at once.
	window = 2 * time.Hour
	// drainWorkers is how many workers a window's drains are, each
	// taking messages one at a time as the host's workers do.
	drainWorkers = 4
	// concurrentClaimWait is how long, in real time, an event waits for
	// another settle of its contractor: a live settle ends in moments, so
	// this is ample, and a claim left by a unit that crashed in the same
	// window (the clock stands still, so it does not expire) costs no
	// more than this before the message is retried.
	concurrentClaimWait = 2 * time.Second
	// staggerMax bounds how late an actor of a window starts.
	staggerMax = 40 * time.Millisecond
)

// playConcurrently runs the random phase window by window.
func (r *run) playConcurrently(ctx context.Context, steps []Step) error {
	for i := 0; i < len(steps); {
		end := steps[i].At.Add(window)
		j := i
		for j < len(steps) && steps[j].At.Before(end) {
			j++
		}
		var actors []Step
		for _, st := range steps[i:j] {
			if st.Kind != Send && st.Kind != Admin {
				actors = append(actors, st)
				continue
			}
			r.clock.Set(st.At)
			if err := r.step(ctx, st); err != nil {
				return fmt.Errorf("model: step %d (%s at %s): %w", st.Seq, st.Kind, stamp(st.At), err)
			}
		}
		if len(actors) > 0 {
			r.clock.Set(actors[len(actors)-1].At)
			if err := r.together(ctx, actors); err != nil {
				return fmt.Errorf("model: window at %s: %w", stamp(r.clock.Now()), err)
			}
		}
		i = j
	}
	return nil
}

// together runs one window's actors at once and waits for all of them.
func (r *run) together(ctx context.Context, actors []Step) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		names []string
		drain bool
	)
	keep := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, st := range actors {
		if st.Kind == Drain {
			drain = true
		} else {
			names = append(names, st.Kind.String())
		}
	}
	if drain {
		names = append(names, fmt.Sprintf("%d workers", drainWorkers))
	}
	r.mu.Lock()
	r.stats.Windows++
	r.mu.Unlock()
	r.linef("", "at once: %s", strings.Join(names, ", "))
	for _, st := range actors {
		if st.Kind != Drain {
			wg.Go(func() { stagger(); keep(r.step(ctx, st)) })
		}
	}
	if drain {
		for range drainWorkers {
			wg.Go(func() { stagger(); keep(r.drain(ctx)) })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stagger starts an actor a random moment (real time) after the others,
// so that which one reaches a contractor first varies.
func stagger() { time.Sleep(time.Duration(rand.Int64N(int64(staggerMax)))) }
