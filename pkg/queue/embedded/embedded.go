// Package embedded is the one-machine queue: durable in the ledger's SQLite
// file, ordered per contractor, with a visibility timeout, a maximum number
// of attempts and a dead-letter list — SQS FIFO's semantics, on one file.
//
// A message is leased when received: hidden until its lease ends. Ack
// deletes it; Retry hides it again for a backoff; a message whose attempts
// reach MaxAttempts, or that DeadLetter is called for, moves to the
// dead-letter list with the reason. While a contractor has a leased
// message, none of their later messages is handed out. A process killed
// mid-message loses nothing: the lease ends and the message comes back.
//
// The queue remembers every message it accepted, by id and digest, for
// Remember (30 days): the same message again is accepted without being
// queued twice, and another message under a known id is refused with
// fault.Conflict (the webhook answers 409). After that the worker's own
// record of handled events still tells them apart.
//
// Workers wait for work without polling: Changed and Wait wake them when a
// message is queued, acknowledged, retried or dead-lettered in this
// process, or when a backed-off message becomes visible; a message queued
// by another process (stint dlq replay) is seen within MaxWait.
package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

const schema = `
CREATE TABLE IF NOT EXISTS queue (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL UNIQUE,
	grp        TEXT NOT NULL,
	body       BLOB NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	visible_at INTEGER NOT NULL,      -- unix ns; leased while in the future
	leased     INTEGER NOT NULL DEFAULT 0,
	enqueued   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_by_group ON queue (grp, seq);
CREATE TABLE IF NOT EXISTS accepted (
	id     TEXT PRIMARY KEY,
	digest TEXT NOT NULL,
	at     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS accepted_by_time ON accepted (at);
CREATE TABLE IF NOT EXISTS dead_letters (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	id       TEXT NOT NULL,
	grp      TEXT NOT NULL,
	body     BLOB NOT NULL,
	attempts INTEGER NOT NULL,
	reason   TEXT NOT NULL,
	code     TEXT NOT NULL,
	at       INTEGER NOT NULL
);`

// Options tune the queue; zero values take the defaults.
type Options struct {
	// Visibility is how long a received message stays hidden (default 60 s).
	Visibility time.Duration
	// MaxAttempts moves a message to the dead letters on its last failure
	// (default 10).
	MaxAttempts int
	// Backoff is the first retry delay, doubled per attempt (default 1 s).
	Backoff time.Duration
	// Remember is how long accepted ids are kept to refuse reuse (default
	// 30 days).
	Remember time.Duration
	// MaxWait bounds Wait, so messages queued by another process are seen
	// (default 5 s).
	MaxWait time.Duration
	// Now is the queue's clock for visibility, leases and backoff (default
	// time.Now); a simulation with a fake clock sets it so that a lease
	// ends when its clock says so, without sleeping.
	Now func() time.Time
}

// Queue is the embedded queue.
type Queue struct {
	db  *sql.DB
	o   Options
	now func() time.Time

	mu     sync.Mutex
	change chan struct{} // closed and replaced on every change
	pruned time.Time
}

var (
	_ engagement.Queue       = (*Queue)(nil)
	_ engagement.DeadLetters = (*Queue)(nil)
)

// Message is a received message.
type Message struct {
	engagement.Message
	Attempts int
}

// DeadLetter is a message on the dead-letter list.
type DeadLetter struct {
	Seq      int64     `json:"seq"`
	ID       string    `json:"id"`
	Group    string    `json:"contractor"`
	Attempts int       `json:"attempts"`
	Reason   string    `json:"reason"`
	Code     string    `json:"code"`
	At       time.Time `json:"at"`
	Body     string    `json:"body"`
}

// Open creates the queue's tables in db (the ledger's file) if needed.
func Open(ctx context.Context, db *sql.DB, o Options) (*Queue, error) {
	if o.Visibility == 0 {
		o.Visibility = time.Minute
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 10
	}
	if o.Backoff == 0 {
		o.Backoff = time.Second
	}
	if o.Remember == 0 {
		o.Remember = 30 * 24 * time.Hour
	}
	if o.MaxWait == 0 {
		o.MaxWait = 5 * time.Second
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("embedded queue: create tables: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Queue{db: db, o: o, now: o.Now, change: make(chan struct{})}, nil
}

// Enqueue adds m, unless its id was accepted before: then it answers nil if
// m says the same (the same digest), and a fault.Conflict error if not.
func (q *Queue) Enqueue(ctx context.Context, m engagement.Message) error {
	err := q.tx(ctx, func(tx *sql.Tx) error {
		var digest string
		err := tx.QueryRowContext(ctx, "SELECT digest FROM accepted WHERE id = ?", m.ID).Scan(&digest)
		switch {
		case err == nil && digest != m.Digest:
			return fault.Errorf(fault.Conflict, "embedded queue: %s was accepted before with other content", m.ID)
		case err == nil:
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		now := q.now().UnixNano()
		if _, err := tx.ExecContext(ctx, "INSERT INTO accepted (id, digest, at) VALUES (?, ?, ?)", m.ID, m.Digest, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO queue (id, grp, body, visible_at, enqueued) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, m.ID, m.Group, m.Body, now, now)
		return err
	})
	if fault.Is(err, fault.Conflict) {
		return err
	}
	if err != nil {
		return fault.Wrap(fault.Transient, fmt.Errorf("embedded queue: enqueue %s: %w", m.ID, err))
	}
	q.signal()
	q.prune(ctx)
	return nil
}

// prune forgets accepted ids older than Remember, at most once an hour.
func (q *Queue) prune(ctx context.Context) {
	q.mu.Lock()
	due := q.now().Sub(q.pruned) > time.Hour
	if due {
		q.pruned = q.now()
	}
	q.mu.Unlock()
	if due {
		// Best effort: an id kept longer only refuses its reuse longer.
		q.db.ExecContext(ctx, "DELETE FROM accepted WHERE at < ?", q.now().Add(-q.o.Remember).UnixNano())
	}
}

func (q *Queue) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// signal wakes every Wait.
func (q *Queue) signal() {
	q.mu.Lock()
	close(q.change)
	q.change = make(chan struct{})
	q.mu.Unlock()
}

// Changed returns a channel closed at the next change of the queue. Take it
// before Receive, and pass it to Wait when Receive found nothing, so that a
// message queued in between is not missed.
func (q *Queue) Changed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.change
}

// Wait blocks until changed is closed, the next backed-off or leased
// message becomes visible, MaxWait passes, or ctx ends.
func (q *Queue) Wait(ctx context.Context, changed <-chan struct{}) {
	wait := q.o.MaxWait
	var next sql.NullInt64
	err := q.db.QueryRowContext(ctx, `SELECT MIN(q.visible_at) FROM queue q
		WHERE q.seq = (SELECT MIN(seq) FROM queue WHERE grp = q.grp)`).Scan(&next)
	if err == nil && next.Valid {
		wait = min(wait, time.Unix(0, next.Int64).Sub(q.now()))
	}
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
	case <-ctx.Done():
	}
}

// Receive leases up to max messages: the oldest visible message of each
// contractor that has none leased, oldest first.
func (q *Queue) Receive(ctx context.Context, max int) ([]Message, error) {
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("embedded queue: receive: %w", err)
	}
	defer tx.Rollback()
	now := q.now().UnixNano()
	rows, err := tx.QueryContext(ctx, `
		SELECT q.seq, q.id, q.grp, q.body, q.attempts FROM queue q
		WHERE q.seq = (SELECT MIN(seq) FROM queue WHERE grp = q.grp)
		  AND q.visible_at <= ?
		ORDER BY q.seq LIMIT ?`, now, max)
	if err != nil {
		return nil, fmt.Errorf("embedded queue: receive: %w", err)
	}
	var out []Message
	var seqs []any
	for rows.Next() {
		var m Message
		var seq int64
		if err := rows.Scan(&seq, &m.ID, &m.Group, &m.Body, &m.Attempts); err != nil {
			rows.Close()
			return nil, fmt.Errorf("embedded queue: receive: %w", err)
		}
		m.Attempts++
		out = append(out, m)
		seqs = append(seqs, seq)
	}
	rows.Close()
	if len(out) == 0 {
		return nil, nil
	}
	lease := q.now().Add(q.o.Visibility).UnixNano()
	_, err = tx.ExecContext(ctx, `UPDATE queue SET attempts = attempts + 1, leased = 1, visible_at = ?
		WHERE seq IN (?`+strings.Repeat(",?", len(seqs)-1)+`)`, append([]any{lease}, seqs...)...)
	if err != nil {
		return nil, fmt.Errorf("embedded queue: lease: %w", err)
	}
	return out, tx.Commit()
}

// Ack removes a handled message.
func (q *Queue) Ack(ctx context.Context, id string) error {
	_, err := q.db.ExecContext(ctx, "DELETE FROM queue WHERE id = ?", id)
	q.signal() // the contractor's next message may go
	return err
}

// Retry hides a message that failed transiently for a backoff, or moves it
// to the dead letters once it has had MaxAttempts.
func (q *Queue) Retry(ctx context.Context, m Message, reason error) error {
	if m.Attempts >= q.o.MaxAttempts {
		return q.DeadLetter(ctx, m.Message, fmt.Errorf("gave up after %d attempts: %w", m.Attempts, reason))
	}
	delay := q.o.Backoff << min(m.Attempts-1, 10)
	if ra := fault.RetryAfter(reason); ra > delay {
		delay = ra
	}
	_, err := q.db.ExecContext(ctx, "UPDATE queue SET visible_at = ?, leased = 0 WHERE id = ?", q.now().Add(delay).UnixNano(), m.ID)
	q.signal() // waiters look at the new visibility
	return err
}

// DeadLetter moves a message to the dead-letter list with the reason.
func (q *Queue) DeadLetter(ctx context.Context, m engagement.Message, reason error) error {
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var attempts int
	err = tx.QueryRowContext(ctx, "SELECT attempts FROM queue WHERE id = ?", m.ID).Scan(&attempts)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO dead_letters (id, grp, body, attempts, reason, code, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		m.ID, m.Group, m.Body, attempts, reason.Error(), string(fault.CodeOf(reason)), q.now().UnixNano()); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM queue WHERE id = ?", m.ID); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	q.signal()
	return nil
}

// DeadLetters lists the dead-letter list, oldest first.
func (q *Queue) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	rows, err := q.db.QueryContext(ctx, "SELECT seq, id, grp, body, attempts, reason, code, at FROM dead_letters ORDER BY seq")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		var at int64
		if err := rows.Scan(&d.Seq, &d.ID, &d.Group, &d.Body, &d.Attempts, &d.Reason, &d.Code, &at); err != nil {
			return nil, err
		}
		d.At = time.Unix(0, at).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// Replay puts a dead letter back on the queue (after the cause is fixed).
func (q *Queue) Replay(ctx context.Context, seq int64) error {
	return q.takeDead(ctx, seq, true)
}

// Drop removes a dead letter for good.
func (q *Queue) Drop(ctx context.Context, seq int64) error {
	return q.takeDead(ctx, seq, false)
}

func (q *Queue) takeDead(ctx context.Context, seq int64, replay bool) error {
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var m engagement.Message
	err = tx.QueryRowContext(ctx, "SELECT id, grp, body FROM dead_letters WHERE seq = ?", seq).Scan(&m.ID, &m.Group, &m.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return fault.Errorf(fault.NotFound, "no dead letter %d (see stint dlq list)", seq)
	}
	if err != nil {
		return err
	}
	if replay {
		now := q.now().UnixNano()
		if _, err := tx.ExecContext(ctx, `INSERT INTO queue (id, grp, body, visible_at, enqueued) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, m.ID, m.Group, m.Body, now, now); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM dead_letters WHERE seq = ?", seq); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	q.signal()
	return nil
}

// Len counts the queued messages (leased ones included).
func (q *Queue) Len(ctx context.Context) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM queue").Scan(&n)
	return n, err
}
