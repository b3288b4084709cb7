package embedded

import (
	"context"
	"database/sql"
	"sync"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Group commit, on SQLite. SQLite has one writer at a time, and a writer
// that finds the file locked polls for it (busy_timeout sleeps 1, 2, 5, 10,
// … ms between tries), so concurrent Puts, each in its own transaction,
// mostly wait for each other. Instead they share transactions: a Put adds
// its message to the next batch and waits; one goroutine at a time
// commits, taking every message waiting (up to maxBatch) into one
// transaction, in the order they came, and answers each only once that
// transaction is committed. Messages that arrive while a commit is in
// flight form the next batch. A batch that fails fails every Put in it,
// and stores none of its messages, so no caller is told a message is
// queued that is not. Within a batch the messages are written one after
// the other, so a second copy of an id finds the first, as across batches.
//
// The committing goroutine is started by the Put that finds none running,
// and ends when nothing waits: an idle queue holds no goroutine, and a
// Queue never closed leaks none.
//
// PostgreSQL takes concurrent writers (row locks), so there each Put keeps
// its own transaction: batching them would hold one batch's locks (the
// accepted ids, the contractors' advisory locks) while it writes the
// others, and two replicas' batches could take them in opposite orders.

// maxBatch bounds a transaction's messages (the webhook's server admits
// 256 connections at once, so a batch is rarely larger).
const maxBatch = 256

type groupCommit struct {
	mu         sync.Mutex
	waiting    []*putRequest
	committing bool
	// commits counts the transactions committed (tests read it).
	commits int
}

type putRequest struct {
	m      engagement.Message
	queued bool
	err    error
	done   chan struct{} // closed once answered
}

// put adds m to the next batch, starts the committer if none runs, and
// waits for m's answer. A caller whose ctx ends first gets its error; its
// message may still be committed, as when a client gives up on an answer.
func (g *groupCommit) put(ctx context.Context, q *Queue, m engagement.Message) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, enqueueError(m, err)
	}
	r := &putRequest{m: m, done: make(chan struct{})}
	g.mu.Lock()
	g.waiting = append(g.waiting, r)
	start := !g.committing
	g.committing = true
	g.mu.Unlock()
	if start {
		go g.commitAll(q)
	}
	select {
	case <-r.done:
		return r.queued, r.err
	case <-ctx.Done():
		return false, enqueueError(m, ctx.Err())
	}
}

// commitAll commits batches until none is waiting.
func (g *groupCommit) commitAll(q *Queue) {
	for {
		g.mu.Lock()
		n := min(len(g.waiting), maxBatch)
		batch := g.waiting[:n:n]
		g.waiting = g.waiting[n:]
		if n == 0 {
			g.waiting = nil
			g.committing = false
		}
		g.mu.Unlock()
		if n == 0 {
			return
		}
		q.commitBatch(batch)
	}
}

// commitBatch writes the batch's messages in one transaction and answers
// each: queued or not, a conflict, or, when the transaction fails, its
// error for all.
func (q *Queue) commitBatch(batch []*putRequest) {
	// The batch belongs to no one caller: none of their contexts may
	// cancel the others' transaction (busy_timeout bounds its waits).
	ctx := context.Background()
	err := q.tx(ctx, func(tx *sql.Tx) error {
		for _, r := range batch {
			r.queued, r.err = q.putIn(ctx, tx, r.m)
			if r.err != nil && !fault.Is(r.err, fault.Conflict) {
				return r.err
			}
		}
		return nil
	})
	queued := false
	for _, r := range batch {
		if err != nil {
			r.queued, r.err = false, err
		}
		r.err = enqueueError(r.m, r.err)
		queued = queued || r.queued
	}
	q.group.mu.Lock()
	if err == nil {
		q.group.commits++
	}
	q.group.mu.Unlock()
	// As a Put of its own would: the workers are woken, and old ids pruned,
	// before the callers hear back.
	q.afterPut(ctx, queued)
	for _, r := range batch {
		close(r.done)
	}
}
