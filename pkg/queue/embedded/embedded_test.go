package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/queue/embedded"
)

// TestQueue runs the queue's behaviours on each database it runs on.
func TestQueue(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		for _, c := range []struct {
			name string
			test func(*testing.T, backend)
		}{
			{"order per contractor and leases", orderPerContractorAndLeases},
			{"retry backs off then dead-letters", retryBacksOffThenDeadLetters},
			{"survives reopen", survivesReopen},
			{"accepted ids are remembered", acceptedIDsAreRemembered},
			{"wait wakes on work", waitWakesOnWork},
			{"clock hook", clockHook},
		} {
			t.Run(c.name, func(t *testing.T) { c.test(t, b) })
		}
	})
}

// open opens a queue in a fresh database.
func open(t *testing.T, b backend, o embedded.Options) *embedded.Queue {
	t.Helper()
	q, _ := openQueue(t, b, b.fresh(t), o)
	return q
}

func msg(id, group string) engagement.Message {
	return engagement.Message{ID: id, Group: group, Body: []byte(`{"id":"` + id + `"}`)}
}

func ids(ms []embedded.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func orderPerContractorAndLeases(t *testing.T, b backend) {
	ctx := context.Background()
	q := open(t, b, embedded.Options{Visibility: 200 * time.Millisecond})
	for _, m := range []engagement.Message{msg("a1", "a"), msg("b1", "b"), msg("a2", "a"), msg("a1", "a")} {
		if err := q.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := q.Len(ctx); n != 3 {
		t.Errorf("Len = %d, want 3: a queued id again is not added", n)
	}
	got, _ := q.Receive(ctx, 10)
	if fmt.Sprint(ids(got)) != "[a1 b1]" {
		t.Fatalf("first receive = %v, want the head of each contractor: [a1 b1]", ids(got))
	}
	if again, _ := q.Receive(ctx, 10); len(again) != 0 {
		t.Errorf("while a1 is leased, a2 must wait; got %v", ids(again))
	}
	q.Ack(ctx, "a1")
	if next, _ := q.Receive(ctx, 10); fmt.Sprint(ids(next)) != "[a2]" {
		t.Errorf("after a1 is acknowledged: %v, want [a2]", ids(next))
	}
	time.Sleep(250 * time.Millisecond) // b1's and a2's leases end: as after a crash
	back, _ := q.Receive(ctx, 10)
	if fmt.Sprint(ids(back)) != "[b1 a2]" || back[0].Attempts != 2 {
		t.Errorf("after the leases end: %v (attempts %d), want b1 and a2 again, second attempt", ids(back), back[0].Attempts)
	}
}

func retryBacksOffThenDeadLetters(t *testing.T, b backend) {
	ctx := context.Background()
	q := open(t, b, embedded.Options{MaxAttempts: 2, Backoff: 100 * time.Millisecond})
	q.Enqueue(ctx, msg("x", "g"))
	m, _ := q.Receive(ctx, 1)
	q.Retry(ctx, m[0], errors.New("graph: 503"))
	if got, _ := q.Receive(ctx, 1); len(got) != 0 {
		t.Error("a retried message came back before its backoff")
	}
	time.Sleep(150 * time.Millisecond)
	m, _ = q.Receive(ctx, 1)
	if len(m) != 1 {
		t.Fatal("the retried message did not come back after its backoff")
	}
	q.Retry(ctx, m[0], fault.Errorf(fault.Transient, "graph: 503"))
	dead, _ := q.DeadLetters(ctx)
	if len(dead) != 1 || dead[0].ID != "x" || dead[0].Attempts != 2 || dead[0].Code != "transient" {
		t.Fatalf("dead letters = %+v, want x after 2 attempts", dead)
	}
	if n, _ := q.Len(ctx); n != 0 {
		t.Errorf("Len = %d, want 0", n)
	}
	if err := q.Replay(ctx, dead[0].Seq); err != nil {
		t.Fatal(err)
	}
	if got, _ := q.Receive(ctx, 1); len(got) != 1 || got[0].ID != "x" {
		t.Errorf("after replay: %v, want x queued again", ids(got))
	}
	if err := q.Drop(ctx, 999); !fault.Is(err, fault.NotFound) {
		t.Errorf("Drop(unknown) = %v, want not found", err)
	}
}

func survivesReopen(t *testing.T, b backend) {
	ctx := context.Background()
	where := b.fresh(t)
	q, closeQueue := openQueue(t, b, where, embedded.Options{})
	q.Enqueue(ctx, msg("kept", "g"))
	closeQueue()
	q, _ = openQueue(t, b, where, embedded.Options{})
	if got, _ := q.Receive(ctx, 1); len(got) != 1 || got[0].ID != "kept" || string(got[0].Body) != `{"id":"kept"}` {
		t.Errorf("after reopening: %v, want the queued message", ids(got))
	}
}

// An id the queue accepted is not queued again: the same message is
// accepted as a no-op, even after it was handled; another message under
// the id is refused as a conflict.
func acceptedIDsAreRemembered(t *testing.T, b backend) {
	ctx := context.Background()
	q := open(t, b, embedded.Options{})
	m := engagement.Message{ID: "hr/x ev-1", Digest: "d1", Group: "g", Body: []byte(`{}`)}
	if err := q.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	got, _ := q.Receive(ctx, 1)
	q.Ack(ctx, got[0].ID)
	if err := q.Enqueue(ctx, m); err != nil {
		t.Errorf("the same message after it was handled: %v, want accepted", err)
	}
	if n, _ := q.Len(ctx); n != 0 {
		t.Errorf("Len = %d after a resend of a handled message, want 0", n)
	}
	other := m
	other.Digest = "d2"
	if err := q.Enqueue(ctx, other); !fault.Is(err, fault.Conflict) {
		t.Errorf("another message under the id: %v, want a conflict", err)
	}
}

// Workers wait for work without polling: a message queued wakes a waiting
// worker at once, and a backed-off message wakes it when it becomes visible.
func waitWakesOnWork(t *testing.T, b backend) {
	ctx := context.Background()
	q := open(t, b, embedded.Options{MaxWait: time.Minute, Backoff: 300 * time.Millisecond})
	changed := q.Changed()
	done := make(chan struct{})
	go func() { q.Wait(ctx, changed); close(done) }()
	q.Enqueue(ctx, msg("a1", "a"))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not wake when a message was queued")
	}
	got, _ := q.Receive(ctx, 1)
	q.Retry(ctx, got[0], errors.New("503"))
	// A worker's loop: Wait, then Receive. Wait may return early (on
	// PostgreSQL the listener wakes waiters once when it connects, for
	// what it may have missed); the message comes back after its backoff,
	// well before MaxWait.
	start := time.Now()
	var again []embedded.Message
	for len(again) == 0 && time.Since(start) < 30*time.Second {
		q.Wait(ctx, q.Changed())
		again, _ = q.Receive(ctx, 1)
	}
	if waited := time.Since(start); len(again) != 1 || waited < 200*time.Millisecond || waited > 30*time.Second {
		t.Errorf("a message backed off for 300ms came back after %v (%v); want about its backoff, well under MaxWait", waited, ids(again))
	}
}

// clockHook: with Options.Now the lease and the retry backoff follow
// that clock, so a simulation can end a lease without sleeping.
func clockHook(t *testing.T, b backend) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	q := open(t, b, embedded.Options{Visibility: time.Minute, Backoff: time.Second, Now: func() time.Time { return now }})
	if err := q.Enqueue(ctx, msg("a1", "a")); err != nil {
		t.Fatal(err)
	}
	first, _ := q.Receive(ctx, 1)
	if len(first) != 1 {
		t.Fatalf("first receive = %v, want [a1]", ids(first))
	}
	now = now.Add(59 * time.Second)
	if got, _ := q.Receive(ctx, 1); len(got) != 0 {
		t.Errorf("receive 59 s into a 60 s lease = %v, want nothing", ids(got))
	}
	now = now.Add(time.Second)
	again, _ := q.Receive(ctx, 1)
	if len(again) != 1 || again[0].Attempts != 2 {
		t.Fatalf("receive once the lease ended = %v, want a1 on its second attempt", again)
	}
	if err := q.Retry(ctx, again[0], fault.Errorf(fault.Transient, "boom")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if got, _ := q.Receive(ctx, 1); len(got) != 0 {
		t.Errorf("receive 1 s into a 2 s backoff = %v, want nothing", ids(got))
	}
	now = now.Add(time.Second)
	if got, _ := q.Receive(ctx, 1); len(got) != 1 {
		t.Errorf("receive once the backoff ended = %v, want a1", ids(got))
	}
}
