package embedded_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/queue/embedded"
)

// A consumer handles up to Workers messages at once — of different
// contractors: a contractor's next message waits for the one in hand —
// and, told to stop, returns only once every message in hand is settled.
func TestAConsumerHandlesWorkersAtOnce(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	q := open(t, sqliteBackend(), embedded.Options{})
	release := make(chan struct{})
	var mu sync.Mutex
	var inHand, handled []string
	peak := 0
	c := &embedded.Consumer{Queue: q, Workers: 3, Handling: 10 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handle: func(_ context.Context, m engagement.Message) engagement.Verdict {
			mu.Lock()
			inHand = append(inHand, m.ID)
			peak = max(peak, len(inHand))
			mu.Unlock()
			<-release
			mu.Lock()
			inHand = slices.DeleteFunc(inHand, func(id string) bool { return id == m.ID })
			handled = append(handled, m.ID)
			mu.Unlock()
			return engagement.Verdict{Outcome: engagement.Done}
		},
	}
	for _, m := range []engagement.Message{msg("a1", "a"), msg("a2", "a"), msg("b1", "b"), msg("c1", "c"), msg("d1", "d")} {
		if err := q.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	snapshot := func() ([]string, int) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Sorted(slices.Values(inHand)), peak
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if held, _ := snapshot(); len(held) == 3 {
			break
		}
		if time.Now().After(deadline) {
			held, _ := snapshot()
			t.Fatalf("in hand after 10 s: %v, want 3 messages", held)
		}
	}
	time.Sleep(100 * time.Millisecond) // room for a fourth, were one wrongly taken
	if held, most := snapshot(); !slices.Equal(held, []string{"a1", "b1", "c1"}) || most != 3 {
		t.Errorf("in hand %v (at most %d at once), want a1, b1, c1: the three oldest heads", held, most)
	}
	stop() // shutdown waits for the messages in hand
	select {
	case <-done:
		t.Fatal("Run returned with three messages in hand")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-done
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(handled)
	if n, err := q.Len(context.Background()); !slices.Equal(handled, []string{"a1", "b1", "c1"}) || n != 2 || err != nil {
		t.Errorf("after Run: handled %v, %d left (%v); want a1, b1, c1 settled and a2, d1 queued", handled, n, err)
	}
}

// A receiver whose lease the database refuses, while the message stays
// visible, tries again a second later rather than at once: it neither
// spins nor floods the log.
func TestARefusedReceiveIsRetriedInASecond(t *testing.T) {
	b := sqliteBackend()
	db, _ := b.open(t, b.fresh(t))
	q, err := embedded.Open(context.Background(), db, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Enqueue(context.Background(), msg("a1", "a")); err != nil {
		t.Fatal(err)
	}
	// Reads work, the lease's UPDATE fails: as on a full disk.
	if _, err := db.Exec(`CREATE TRIGGER refuse_lease BEFORE UPDATE ON queue BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	c := &embedded.Consumer{Queue: q, Workers: 4, Handling: time.Second, Log: slog.New(slog.NewTextHandler(logs, nil)),
		Handle: func(context.Context, engagement.Message) engagement.Verdict {
			t.Error("a message was handled though its lease was refused")
			return engagement.Verdict{Outcome: engagement.Done}
		}}
	ctx, stop := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer stop()
	c.Run(ctx)
	if n := strings.Count(logs.String(), "receive failed"); n < 1 || n > 2 {
		t.Errorf("%d failed receives logged in half a second, want 1 (then a second's wait):\n%s", n, logs.String())
	}
}
