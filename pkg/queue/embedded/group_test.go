package embedded

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
)

// openSQLite opens a queue in a fresh ledger file, as stint serve does.
func openSQLite(t *testing.T) *Queue {
	t.Helper()
	l, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "stint.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	q, err := Open(context.Background(), l.DB(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func message(id, digest string) engagement.Message {
	return engagement.Message{ID: id, Group: "g-" + id, Digest: digest, Body: []byte(`{"id":"` + id + `"}`)}
}

// stored reports whether m's row is in the queue, read on a connection of
// its own: what another process would see.
func stored(t *testing.T, q *Queue, id string) bool {
	t.Helper()
	var n int
	if err := q.db.QueryRow("SELECT COUNT(*) FROM queue WHERE id = ?", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// holdWriteLock takes SQLite's write lock on a connection of its own, so
// that the next commit waits; release lets it go.
func holdWriteLock(t *testing.T, q *Queue) (release func()) {
	t.Helper()
	conn, err := q.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return func() {
		conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
	}
}

// waitUntil waits for cond, checked every millisecond, for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
	}
}

// state is what the group commit is doing: messages waiting for the next
// transaction, transactions committed, and whether a committer runs.
func (g *groupCommit) state() (waiting, commits int, committing bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiting), g.commits, g.committing
}

// inFlight reports whether a transaction is being written with nothing
// waiting for the next.
func (g *groupCommit) inFlight() bool {
	waiting, _, committing := g.state()
	return waiting == 0 && committing
}

type putResult struct {
	id     string
	queued bool
	err    error
}

// putAll puts each message at once, each from its own goroutine, and
// returns the answers on a channel closed when all are in.
func putAll(q *Queue, ms ...engagement.Message) <-chan putResult {
	out := make(chan putResult, len(ms))
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			queued, err := q.Put(context.Background(), m)
			out <- putResult{m.ID, queued, err}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	return out
}

// behindACommit puts first, holds its commit, then puts rest while it
// waits: rest wait together for the next transaction. It returns first's
// answer and rest's.
func behindACommit(t *testing.T, q *Queue, first engagement.Message, rest ...engagement.Message) (putResult, []putResult) {
	t.Helper()
	release := holdWriteLock(t, q)
	head := putAll(q, first)
	waitUntil(t, "the first message is taken into a transaction", q.group.inFlight)
	tail := putAll(q, rest...)
	waitUntil(t, "the others wait for the next", func() bool {
		waiting, _, _ := q.group.state()
		return waiting == len(rest)
	})
	release()
	var got []putResult
	for r := range tail {
		got = append(got, r)
	}
	return <-head, got
}

// Every concurrent Put is answered only once its message is committed:
// another connection sees the row when the caller hears back.
func TestConcurrentPutsAreAnsweredOnceStored(t *testing.T) {
	q := openSQLite(t)
	var ms []engagement.Message
	for i := range 64 {
		ms = append(ms, message(fmt.Sprintf("m%d", i), "d"))
	}
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			queued, err := q.Put(context.Background(), m)
			if err != nil || !queued {
				t.Errorf("Put(%s) = %v, %v; want queued", m.ID, queued, err)
				return
			}
			if !stored(t, q, m.ID) {
				t.Errorf("Put(%s) answered before its row was committed", m.ID)
			}
		}()
	}
	wg.Wait()
	if n, _ := q.Len(context.Background()); n != len(ms) {
		t.Errorf("Len = %d, want %d", n, len(ms))
	}
}

// Puts that arrive while a commit is in flight share the next
// transaction, and the committer stops once nothing waits.
func TestPutsArrivingDuringACommitShareTheNext(t *testing.T) {
	q := openSQLite(t)
	var rest []engagement.Message
	for i := range 20 {
		rest = append(rest, message(fmt.Sprintf("r%d", i), "d"))
	}
	first, others := behindACommit(t, q, message("first", "d"), rest...)
	for _, r := range append(others, first) {
		if r.err != nil || !r.queued || !stored(t, q, r.id) {
			t.Errorf("Put(%s) = %v, %v (stored %v); want queued and stored", r.id, r.queued, r.err, stored(t, q, r.id))
		}
	}
	if _, commits, _ := q.group.state(); commits != 2 {
		t.Errorf("%d transactions committed, want 2: the first message's, then the 20 others' together", commits)
	}
	waitUntil(t, "the committer stops", func() bool {
		_, _, committing := q.group.state()
		return !committing
	})
}

// A batch that fails fails every Put in it, and stores none of its
// messages; the batches before and after are not affected.
func TestAFailedBatchFailsEveryPutInIt(t *testing.T) {
	q := openSQLite(t)
	// The disk refuses one message: its INSERT fails inside the batch.
	if _, err := q.db.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON queue WHEN NEW.id = 'bad'
		BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`); err != nil {
		t.Fatal(err)
	}
	first, batch := behindACommit(t, q, message("first", "d"), message("a", "d"), message("bad", "d"), message("c", "d"))
	if first.err != nil || !first.queued {
		t.Errorf("the batch before: Put(first) = %v, %v; want queued", first.queued, first.err)
	}
	for _, r := range batch {
		if r.err == nil || r.queued || !fault.Is(r.err, fault.Transient) {
			t.Errorf("Put(%s) = %v, %v; want a transient error, its batch failed", r.id, r.queued, r.err)
		}
		if stored(t, q, r.id) {
			t.Errorf("%s is stored though its Put failed", r.id)
		}
	}
	// Nothing of the failed batch was remembered as accepted: a, sent
	// again, is queued.
	if queued, err := q.Put(context.Background(), message("a", "d")); err != nil || !queued {
		t.Errorf("Put(a) after its batch failed = %v, %v; want queued", queued, err)
	}
}

// An id is queued once, whether its copies come in one batch or in
// several; another message under a known id is a conflict.
func TestDuplicatesWithinAndAcrossBatches(t *testing.T) {
	q := openSQLite(t)
	batch := []*putRequest{
		{m: message("x", "d1")}, {m: message("x", "d1")}, {m: message("y", "d1")}, {m: message("x", "d2")},
	}
	for _, r := range batch {
		r.done = make(chan struct{})
	}
	q.commitBatch(batch)
	want := []struct {
		queued   bool
		conflict bool
	}{{true, false}, {false, false}, {true, false}, {false, true}}
	for i, r := range batch {
		if r.queued != want[i].queued || fault.Is(r.err, fault.Conflict) != want[i].conflict || (r.err != nil) != want[i].conflict {
			t.Errorf("batch item %d (%s, %s) = %v, %v; want queued %v, conflict %v", i, r.m.ID, r.m.Digest, r.queued, r.err, want[i].queued, want[i].conflict)
		}
	}
	if queued, err := q.Put(context.Background(), message("x", "d1")); queued || err != nil {
		t.Errorf("x again in a later batch = %v, %v; want accepted, not queued twice", queued, err)
	}
	if _, err := q.Put(context.Background(), message("x", "d2")); !fault.Is(err, fault.Conflict) {
		t.Errorf("x with other content in a later batch = %v, want a conflict", err)
	}
	if n, _ := q.Len(context.Background()); n != 2 {
		t.Errorf("Len = %d, want 2 (x and y once each)", n)
	}
}

// A caller that gives up is answered at once; the batch goes on for the
// others.
func TestAPutWhoseContextEndsStopsWaiting(t *testing.T) {
	q := openSQLite(t)
	release := holdWriteLock(t, q)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := q.Put(ctx, message("impatient", "d")); done <- err }()
	waitUntil(t, "the message is taken into a transaction", q.group.inFlight)
	cancel()
	if err := <-done; !fault.Is(err, fault.Transient) {
		t.Errorf("Put with its context ended = %v, want a transient error (the sender retries)", err)
	}
	release()
	if queued, err := q.Put(context.Background(), message("patient", "d")); err != nil || !queued {
		t.Errorf("the next Put = %v, %v; want queued", queued, err)
	}
}
