package embedded_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/queue/embedded"
)

// Stats counts the queued messages, leased ones too, dates the oldest by
// when it was queued, and counts the dead letters.
func TestStats(t *testing.T) { eachBackend(t, testStats) }

func testStats(t *testing.T, b backend) {
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	q := open(t, b, embedded.Options{Now: func() time.Time { return now }})
	if s, err := q.Stats(ctx); err != nil || s != (embedded.Stats{}) {
		t.Fatalf("Stats of an empty queue = %+v, %v; want zeros", s, err)
	}
	first := now
	for _, m := range []engagement.Message{msg("a1", "a"), msg("b1", "b"), msg("c1", "c")} {
		if err := q.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
	}
	got, err := q.Receive(ctx, 1) // a1, leased: still queued
	if err != nil || len(got) != 1 {
		t.Fatalf("Receive = %v, %v", got, err)
	}
	if err := q.DeadLetter(ctx, msg("b1", "b"), errors.New("never")); err != nil {
		t.Fatal(err)
	}
	want := embedded.Stats{Messages: 2, Oldest: first, DeadLetters: 1}
	if s, err := q.Stats(ctx); err != nil || s.Messages != want.Messages || !s.Oldest.Equal(want.Oldest) || s.DeadLetters != want.DeadLetters {
		t.Errorf("Stats = %+v, %v; want %+v", s, err, want)
	}
}

// Put says whether a message was queued now: yes the first time, no for
// the same message again (a sender's retry, queued once); another message
// under the id is refused.
func TestPut(t *testing.T) { eachBackend(t, testPut) }

func testPut(t *testing.T, b backend) {
	ctx := context.Background()
	q := open(t, b, embedded.Options{})
	m := msg("a1", "a")
	m.Digest = "d1"
	if queued, err := q.Put(ctx, m); err != nil || !queued {
		t.Fatalf("Put of a new message = %v, %v; want queued", queued, err)
	}
	if queued, err := q.Put(ctx, m); err != nil || queued {
		t.Errorf("Put of the same message again = %v, %v; want accepted, not queued", queued, err)
	}
	if n, _ := q.Len(ctx); n != 1 {
		t.Errorf("Len = %d, want the message queued once", n)
	}
	other := m
	other.Digest = "d2"
	if queued, err := q.Put(ctx, other); !fault.Is(err, fault.Conflict) || queued {
		t.Errorf("Put of another message under the id = %v, %v; want refused", queued, err)
	}
}

// The consumer tells DeadLettered of each message it moves to the dead
// letters: refused by the handler, with the handler's code, and out of
// attempts, as transient.
func TestConsumerTellsDeadLettered(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	q := open(t, sqliteBackend(), embedded.Options{MaxAttempts: 2, Backoff: time.Millisecond})
	var mu sync.Mutex
	var codes []string
	c := &embedded.Consumer{Queue: q, Handling: time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handle: func(_ context.Context, m engagement.Message) engagement.Verdict {
			if m.ID == "refused" {
				return engagement.Verdict{Outcome: engagement.Dead, Err: fault.Errorf(fault.Invalid, "never")}
			}
			return engagement.Verdict{Outcome: engagement.Retry, Err: fault.Errorf(fault.Transient, "later")}
		},
		DeadLettered: func(code fault.Code) { mu.Lock(); codes = append(codes, string(code)); mu.Unlock() },
	}
	for _, m := range []engagement.Message{msg("refused", "a"), msg("retried", "b")} {
		if err := q.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	go c.Run(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for s, _ := q.Stats(ctx); s.DeadLetters < 2; s, _ = q.Stats(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("Stats = %+v after 10 s, want both messages dead-lettered", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(codes)
	if want := []string{"invalid", "transient"}; !slices.Equal(codes, want) {
		t.Errorf("DeadLettered was told %q, want %q", codes, want)
	}
}
