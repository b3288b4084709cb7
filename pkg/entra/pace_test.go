package entra

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/sandbox"
)

// paceStep is one reservation and what it should get.
type paceStep struct {
	name          string
	now           time.Time
	cost          int
	deadline      time.Time
	want          time.Time
	wantScheduled bool
}

func TestWritePace(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	idle := ms(2960).Add(paceIdle)
	p := &writePace{}
	check := func(steps ...paceStep) {
		t.Helper()
		for _, s := range steps {
			got, ok := p.reserve(s.now, s.cost, s.deadline)
			if !got.Equal(s.want) || ok != s.wantScheduled {
				t.Errorf("%s: reserve = %s, %v; want %s, %v", s.name, got.Sub(t0), ok, s.want.Sub(t0), s.wantScheduled)
			}
		}
	}
	check(
		paceStep{name: "before any 429, writes go at once", now: ms(0), cost: 1, want: ms(0), wantScheduled: true},
		paceStep{name: "a read never waits", now: ms(0), cost: 0, want: ms(0), wantScheduled: true},
	)
	if !p.throttled(ms(10), 40*time.Millisecond) {
		t.Error("the first 429 did not start the pacing")
	}
	check(
		paceStep{name: "the first write after the 429 waits its Retry-After", now: ms(12), cost: 1, want: ms(50), wantScheduled: true},
		paceStep{name: "the next one the bucket's refill", now: ms(13), cost: 1, want: ms(100), wantScheduled: true},
		paceStep{name: "a read still goes at once", now: ms(14), cost: 0, want: ms(14), wantScheduled: true},
		paceStep{name: "a $batch of 3 writes waits for 3 refills", now: ms(15), cost: 3, want: ms(250), wantScheduled: true},
		paceStep{name: "a write whose turn is after its deadline is not placed", now: ms(16), cost: 1, deadline: ms(299), want: ms(300)},
		paceStep{name: "so the next keeps that turn", now: ms(17), cost: 1, deadline: ms(300), want: ms(300), wantScheduled: true},
		paceStep{name: "one that comes late goes at once", now: ms(900), cost: 1, want: ms(900), wantScheduled: true},
		paceStep{name: "and so does the next: the turns missed meanwhile are spent", now: ms(901), cost: 1, want: ms(901), wantScheduled: true},
	)
	if p.throttled(ms(910), 2*time.Second) {
		t.Error("a 429 while paced restarted the pacing")
	}
	check(
		paceStep{name: "another process's 429 pushes the next write back", now: ms(920), cost: 1, want: ms(2910), wantScheduled: true},
		paceStep{name: "idle longer than paceIdle: the pacing ends", now: idle.Add(time.Millisecond), cost: 1, want: idle.Add(time.Millisecond), wantScheduled: true},
		paceStep{name: "and writes go at once again", now: idle.Add(2 * time.Millisecond), cost: 1, want: idle.Add(2 * time.Millisecond), wantScheduled: true},
	)
}

// After a pause, at most a second's worth of missed turns go at once.
func TestWritePaceCredit(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	p := &writePace{}
	p.throttled(t0, 0)
	now := t0.Add(5 * time.Second)
	var at []time.Duration
	for range 23 {
		a, _ := p.reserve(now, 1, time.Time{})
		at = append(at, a.Sub(now))
	}
	want := make([]time.Duration, 21) // the write now, and the 20 turns of the last second
	want = append(want, writeSpacing, 2*writeSpacing)
	if !slices.Equal(at, want) {
		t.Errorf("waits after a pause = %v, want %v", at, want)
	}
}

func TestWriteCost(t *testing.T) {
	get, _ := http.NewRequest(http.MethodGet, "https://graph.test/v1.0/users", nil)
	patch, _ := http.NewRequest(http.MethodPatch, "https://graph.test/v1.0/groups/g", nil)
	batch, _ := http.NewRequestWithContext(withWrites(context.Background(), 7), http.MethodPost, "https://graph.test/v1.0/$batch", nil)
	reads, _ := http.NewRequestWithContext(withWrites(context.Background(), 0), http.MethodPost, "https://graph.test/v1.0/$batch", nil)
	for _, tt := range []struct {
		name string
		req  *http.Request
		want int
	}{{"GET", get, 0}, {"PATCH", patch, 1}, {"$batch of 7 writes", batch, 7}, {"$batch of reads", reads, 0}} {
		if got := writeCost(tt.req); got != tt.want {
			t.Errorf("writeCost(%s) = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// A write whose turn at the write limit comes after its deadline is not
// sent: it fails at once, transient, carrying the wait.
func TestWriteAfterItsDeadlineIsNotSent(t *testing.T) {
	f := newFixture(t)
	u := f.users(t, 2)
	g1, g2 := f.group(t), f.group(t)
	f.ten.EnableThrottling(sandbox.Throttle{WritesPer150s: 3, WritesSpent: 3}) // one write back every 50 s
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := f.c.AddMember(ctx, g1.ID, u[0])
	if !fault.Is(err, fault.Transient) || fault.RetryAfter(err) < 49*time.Second {
		t.Fatalf("AddMember at the limit = %v (wait %s), want transient with Graph's 50 s", err, fault.RetryAfter(err))
	}
	err = f.c.AddMember(ctx, g2.ID, u[1])
	if !fault.Is(err, fault.Transient) || fault.RetryAfter(err) < 45*time.Second {
		t.Errorf("AddMember paced past its deadline = %v (wait %s), want transient with the wait for its turn", err, fault.RetryAfter(err))
	}
	wantCalls(t, f.calls(), "POST /v1.0/groups/"+g1.ID+"/members/$ref 429")
}

// At the write limit, concurrent writes are paced and waited out: every
// one succeeds.
func TestWritesAtTheLimitAreWaitedOut(t *testing.T) {
	f := newFixture(t)
	const n = 12
	u := f.users(t, n)
	f.ten.EnableThrottling(sandbox.Throttle{WritesSpent: 3000}) // the documented 20 writes a second, all spent
	errs := make(chan error, n)
	for i := range n {
		g := f.group(t)
		go func() { errs <- f.c.AddMember(context.Background(), g.ID, u[i]) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := f.ten.ThrottleUsage()[f.appID].Writes; got != n {
		t.Errorf("%d writes charged, want %d", got, n)
	}
}
