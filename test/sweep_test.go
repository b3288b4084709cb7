package test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/sweep"
)

// sweepRun invokes the sweep function and decodes its summary.
func (w *world) sweepRun(tb testing.TB, mode string, dryRun bool) sweep.Summary {
	tb.Helper()
	payload, _ := json.Marshal(sweep.Input{Mode: mode, DryRun: dryRun})
	out, err := w.sweep.Invoke(context.Background(), payload, 60*time.Second)
	if err != nil {
		tb.Fatalf("sweep %s: %v\n%s", mode, err, w.sweep.Logs())
	}
	var sum sweep.Summary
	if err := json.Unmarshal(out, &sum); err != nil {
		tb.Fatalf("sweep answer %s: %v", out, err)
	}
	return sum
}

func (w *world) inGroup(tb testing.TB, email, key string) bool {
	tb.Helper()
	u, ok := w.user(tb, email)
	return ok && slices.Contains(w.tenant.Members(w.groups[key]), u.ID)
}

func TestSweepFunction(t *testing.T) {
	w := newWorld(t, worldOptions{ghostGrace: 3 * time.Second})
	now := time.Now()
	// ends in 3 s; starts in 3 s; a contractor later removed by hand.
	w.enqueue(t,
		evt("sw-end", "started", "ENG-END", "ending@vendor.example", now.Add(-time.Second), map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": now.Add(3 * time.Second).UTC().Format(time.RFC3339Nano)}),
		evt("sw-start", "started", "ENG-START", "starting@vendor.example", now.Add(-time.Second), map[string]any{"startsAt": now.Add(3 * time.Second).UTC().Format(time.RFC3339Nano), "endsAt": ts(now.Add(time.Hour))}),
		evt("sw-drift", "started", "ENG-DRIFT", "drift@vendor.example", now.Add(-time.Second), map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(time.Hour))}),
	)
	w.idle(t)
	if !w.inGroup(t, "ending@vendor.example", "contractor-access") || w.inGroup(t, "starting@vendor.example", "contractor-access") {
		t.Fatalf("before the tick: ending is a member %v (want true), starting %v (want false)",
			w.inGroup(t, "ending@vendor.example", "contractor-access"), w.inGroup(t, "starting@vendor.example", "contractor-access"))
	}
	drift, _ := w.user(t, "drift@vendor.example")
	if err := w.tenant.RemoveMember(w.groups["contractor-access"], drift.ID); err != nil {
		t.Fatal(err)
	}
	ghost := w.tenant.AddUser(sandbox.User{DisplayName: "Ghost", Mail: "ghost@old.example", UserType: "Guest", AccountEnabled: true, ExternalUserState: "Accepted"})
	if err := w.tenant.AddMember(w.groups["contractor-access"], ghost.ID); err != nil {
		t.Fatal(err)
	}

	t.Run("dry runs change nothing", func(t *testing.T) {
		time.Sleep(time.Until(now.Add(3500 * time.Millisecond)))
		writes := w.graphWrites()
		tick, rec := w.sweepRun(t, "tick", true), w.sweepRun(t, "reconcile", true)
		if got := w.graphWrites(); got != writes {
			t.Errorf("dry runs wrote %d times to Graph", got-writes)
		}
		if tick.Expired != 1 || tick.Activated != 1 || rec.Flagged == 0 {
			t.Errorf("dry tick %+v, dry reconcile %+v: want the expiry, the start and the ghost reported", tick, rec)
		}
		if !w.inGroup(t, "ending@vendor.example", "contractor-access") {
			t.Error("the dry run removed a member")
		}
	})
	t.Run("the next tick expires the ended and activates the started", func(t *testing.T) {
		sum := w.sweepRun(t, "tick", false)
		if w.inGroup(t, "ending@vendor.example", "contractor-access") || !w.inGroup(t, "starting@vendor.example", "contractor-access") {
			t.Errorf("after the tick (%+v): the ended contractor must be out, the started one in", sum)
		}
		if u, _ := w.user(t, "ending@vendor.example"); u.AccountEnabled {
			t.Error("the ended guest can still sign in")
		}
	})
	t.Run("reconcile re-adds the drift and flags the ghost", func(t *testing.T) {
		sum := w.sweepRun(t, "reconcile", false)
		if !w.inGroup(t, "drift@vendor.example", "contractor-access") {
			t.Errorf("the contractor removed by hand was not re-added: %+v", sum)
		}
		if !slices.Contains(w.tenant.Members(w.groups["contractor-access"]), ghost.ID) {
			t.Error("the ghost was removed before its grace period")
		}
	})
	t.Run("after the grace period the ghost is removed", func(t *testing.T) {
		time.Sleep(3 * time.Second)
		sum := w.sweepRun(t, "reconcile", false)
		if slices.Contains(w.tenant.Members(w.groups["contractor-access"]), ghost.ID) || sum.Removed != 1 {
			t.Errorf("after the grace: %+v; want the ghost removed", sum)
		}
	})
}
