// Package queuetest is the queue conformance suite: every transport stint
// runs on (the embedded queue, SQS, Service Bus) passes the same tests of
// the behaviour the worker relies on, through its own consumer, which
// settles the handler's verdicts its own way:
//
//   - messages of one contractor (group) are handled in order;
//   - a message sent twice under one id (the same event) is handled once;
//   - a transient failure is retried, and the contractor's later messages
//     wait for it;
//   - a dead message reaches the dead letters with its code and reason;
//   - a message that keeps failing never blocks other contractors;
//   - a consumer that dies mid-message loses nothing: once its lease or
//     lock ends, the message is delivered again.
package queuetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Handler judges a message; the suite's handlers record what they saw.
type Handler func(context.Context, engagement.Message) engagement.Verdict

// Transport is a queue under test, with its consumer.
type Transport interface {
	// Send enqueues a message, as the webhook does.
	Send(ctx context.Context, m engagement.Message) error
	// Consume runs the transport's consumer with h, and returns when ctx
	// ends, abandoning a handler still running, as a crash would: its
	// message must come back once its lease or lock ends.
	Consume(ctx context.Context, h Handler)
	// DeadLetters lists the dead letters.
	DeadLetters(ctx context.Context) ([]DeadLetter, error)
}

// DeadLetter is a dead message as the transport keeps it.
type DeadLetter struct {
	ID, Code, Reason string
}

// New makes a fresh transport for one test.
type New func(t *testing.T) Transport

// Run runs the suite.
func Run(t *testing.T, newTransport New) {
	t.Run("order per contractor", func(t *testing.T) { order(t, newTransport(t)) })
	t.Run("duplicate event ids", func(t *testing.T) { duplicates(t, newTransport(t)) })
	t.Run("retry after a transient failure", func(t *testing.T) { retry(t, newTransport(t)) })
	t.Run("dead letters carry code and reason", func(t *testing.T) { dead(t, newTransport(t)) })
	t.Run("a poison message blocks no other contractor", func(t *testing.T) { poison(t, newTransport(t)) })
	t.Run("nothing lost when the consumer dies", func(t *testing.T) { crash(t, newTransport(t)) })
}

func msg(group string, n int) engagement.Message {
	id := fmt.Sprintf("hr/test %s-%d", group, n)
	return engagement.Message{ID: id, Digest: "d-" + id, Group: group, Body: []byte(fmt.Sprintf(`{"id":%q}`, id))}
}

// log records what a handler saw, in order.
type log struct {
	mu   sync.Mutex
	seen []string
	ch   chan string
}

func newLog() *log { return &log{ch: make(chan string, 1000)} }

// idOf is the message's id as its body says: transports carry their own
// ids (SQS a hash), the body is what the worker reads.
func idOf(m engagement.Message) string {
	var b struct{ ID string }
	json.Unmarshal(m.Body, &b)
	return b.ID
}

func (l *log) add(id string) {
	l.mu.Lock()
	l.seen = append(l.seen, id)
	l.mu.Unlock()
	l.ch <- id
}

func (l *log) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

// until waits until cond holds of what the handler saw.
func (l *log) until(t *testing.T, what string, cond func([]string) bool) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for !cond(l.list()) {
		select {
		case <-l.ch:
		case <-deadline:
			t.Fatalf("%s: not within 60 s; handled %v", what, l.list())
		}
	}
}

func start(t *testing.T, tr Transport, h Handler) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tr.Consume(ctx, h) }()
	t.Cleanup(func() { cancel(); <-done })
	return cancel
}

func send(t *testing.T, tr Transport, ms ...engagement.Message) {
	t.Helper()
	for _, m := range ms {
		if err := tr.Send(context.Background(), m); err != nil {
			t.Fatalf("send %s: %v", m.ID, err)
		}
	}
}

func done() engagement.Verdict { return engagement.Verdict{Outcome: engagement.Done} }

func inOrder(seen []string, group string, n int) bool {
	var got []string
	for _, id := range seen {
		if strings.HasPrefix(id, "hr/test "+group+"-") {
			got = append(got, id)
		}
	}
	if len(got) != n {
		return false
	}
	for i, id := range got {
		if id != msg(group, i).ID {
			return false
		}
	}
	return true
}

func order(t *testing.T, tr Transport) {
	for i := range 5 {
		send(t, tr, msg("ana@x.example", i), msg("bo@x.example", i))
	}
	l := newLog()
	start(t, tr, func(_ context.Context, m engagement.Message) engagement.Verdict { l.add(idOf(m)); return done() })
	l.until(t, "ten messages", func(s []string) bool { return len(s) >= 10 })
	for _, g := range []string{"ana@x.example", "bo@x.example"} {
		if !inOrder(l.list(), g, 5) {
			t.Errorf("%s's messages handled as %v, want 0..4 in order, once each", g, l.list())
		}
	}
}

func duplicates(t *testing.T, tr Transport) {
	m := msg("ana@x.example", 0)
	send(t, tr, m, m, msg("ana@x.example", 1))
	l := newLog()
	start(t, tr, func(_ context.Context, m engagement.Message) engagement.Verdict { l.add(idOf(m)); return done() })
	l.until(t, "the second message", func(s []string) bool { return slices.Contains(s, msg("ana@x.example", 1).ID) })
	time.Sleep(200 * time.Millisecond) // a duplicate would be behind it
	if got := l.list(); !slices.Equal(got, []string{m.ID, msg("ana@x.example", 1).ID}) {
		t.Errorf("handled %v, want the message once, then the next", got)
	}
}

func retry(t *testing.T, tr Transport) {
	send(t, tr, msg("ana@x.example", 0), msg("ana@x.example", 1))
	l := newLog()
	var mu sync.Mutex
	failed := false
	start(t, tr, func(_ context.Context, m engagement.Message) engagement.Verdict {
		l.add(idOf(m))
		mu.Lock()
		defer mu.Unlock()
		if idOf(m) == msg("ana@x.example", 0).ID && !failed {
			failed = true
			return engagement.Verdict{Outcome: engagement.Retry, Err: fault.Errorf(fault.Transient, "Graph answered 503")}
		}
		return done()
	})
	l.until(t, "the retried message, then the next", func(s []string) bool { return slices.Contains(s, msg("ana@x.example", 1).ID) })
	want := []string{msg("ana@x.example", 0).ID, msg("ana@x.example", 0).ID, msg("ana@x.example", 1).ID}
	if got := l.list(); !slices.Equal(got, want) {
		t.Errorf("handled %v, want %v: the retry first, the later message after it", got, want)
	}
}

func dead(t *testing.T, tr Transport) {
	send(t, tr, msg("ana@x.example", 0), msg("ana@x.example", 1))
	l := newLog()
	start(t, tr, func(_ context.Context, m engagement.Message) engagement.Verdict {
		l.add(idOf(m))
		if idOf(m) == msg("ana@x.example", 0).ID {
			return engagement.Verdict{Outcome: engagement.Dead, Err: fault.Errorf(fault.Invalid, "/data/endsAt: is required"), Key: idOf(m)}
		}
		return done()
	})
	l.until(t, "the message after the dead one", func(s []string) bool { return slices.Contains(s, msg("ana@x.example", 1).ID) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		dls, err := tr.DeadLetters(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) == 1 {
			d := dls[0]
			if d.Code != string(fault.Invalid) || !strings.Contains(d.Reason, "/data/endsAt: is required") {
				t.Errorf("dead letter %+v, want code invalid and the reason", d)
			}
			break
		}
		if len(dls) > 1 || time.Now().After(deadline) {
			t.Fatalf("dead letters %+v, want the one", dls)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(strings.Join(l.list(), " "), msg("ana@x.example", 0).ID); n != 1 {
		t.Errorf("the dead message was handled %d times, want once", n)
	}
}

func poison(t *testing.T, tr Transport) {
	send(t, tr, msg("ana@x.example", 0))
	for i := range 3 {
		send(t, tr, msg("bo@x.example", i))
	}
	l := newLog()
	start(t, tr, func(_ context.Context, m engagement.Message) engagement.Verdict {
		l.add(idOf(m))
		if strings.HasPrefix(idOf(m), "hr/test ana") {
			return engagement.Verdict{Outcome: engagement.Retry, Err: fault.Errorf(fault.Transient, "Graph is down for ana")}
		}
		return done()
	})
	l.until(t, "bo's three messages", func(s []string) bool { return inOrder(s, "bo@x.example", 3) })
}

func crash(t *testing.T, tr Transport) {
	send(t, tr, msg("ana@x.example", 0))
	l := newLog()
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	stop := start(t, tr, func(ctx context.Context, m engagement.Message) engagement.Verdict {
		l.add(idOf(m))
		<-hang // the process is gone
		return done()
	})
	l.until(t, "the first delivery", func(s []string) bool { return len(s) == 1 })
	stop()
	l2 := newLog()
	start(t, tr, func(_ context.Context, m engagement.Message) engagement.Verdict { l2.add(idOf(m)); return done() })
	l2.until(t, "the message, again, after the lease", func(s []string) bool { return slices.Contains(s, msg("ana@x.example", 0).ID) })
}
