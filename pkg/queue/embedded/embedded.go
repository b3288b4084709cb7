// Package embedded is the queue stint keeps in the ledger's own database:
// durable in the ledger's SQLite file on one machine, or in its PostgreSQL
// database, where several `stint serve` replicas sharing it form one
// queue. It is ordered per contractor, with a visibility timeout, a
// maximum number of attempts and a dead-letter list: SQS FIFO's semantics,
// in a database.
//
// A message is leased when received: hidden until its lease ends. Ack
// deletes it; Retry hides it again for a backoff; a message whose attempts
// reach MaxAttempts, or that DeadLetter is called for, moves to the
// dead-letter list with the reason. While a contractor has a leased
// message, none of their later messages is handed out, by any process
// sharing the database (Receive says why that holds on PostgreSQL). A
// process killed mid-message loses nothing: the lease ends and the message
// comes back. Leases are timed by each process's clock (Options.Now):
// replicas' clocks must agree to well within Visibility, as NTP keeps them.
//
// The queue remembers every message it accepted, by id and digest, for
// Remember (30 days): the same message again is accepted without being
// queued twice, and another message under a known id is refused with
// fault.Conflict (the webhook answers 409). After that the worker's own
// record of handled events still tells them apart.
//
// Workers wait for work without polling: Changed and Wait wake them when a
// message is queued, acknowledged, retried or dead-lettered in this
// process, or when a backed-off message becomes visible. On SQLite a
// message queued by another process (stint dlq replay) is seen within
// MaxWait. On PostgreSQL every change is also announced with NOTIFY, and a
// Queue whose Changed was called LISTENs on a connection of its own, so
// that a replica's workers learn of another's changes at once; while that
// connection is down (it is opened again every second) they see them
// within MaxWait, as on SQLite.
//
// A Consumer's workers share one receiver, which takes as many messages
// in one Receive as there are idle workers: a change wakes that receiver
// alone, so the number of workers adds nothing to what waiting costs the
// database (a Receive, then Wait's one query, per change).
package embedded

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

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
	// MaxWait bounds Wait, so that changes made by another process are
	// seen (default 5 s): on SQLite always, on PostgreSQL while the
	// listener's connection is down.
	MaxWait time.Duration
	// Now is the queue's clock for visibility, leases and backoff (default
	// time.Now); a simulation with a fake clock sets it so that a lease
	// ends when its clock says so, without sleeping.
	Now func() time.Time
}

// Queue is the embedded queue.
type Queue struct {
	db     *sql.DB
	d      dialect
	origin string // names this Queue in its notifications (PostgreSQL)
	o      Options
	now    func() time.Time

	group groupCommit // Put's shared transactions on SQLite

	mu           sync.Mutex
	change       chan struct{} // closed and replaced on every change
	pruned       time.Time
	stopListener func() // set once the listener runs (PostgreSQL)
	closed       bool
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

// Open creates the queue's tables in db (the ledger's database) if needed.
// db is SQLite (driver "sqlite", modernc.org/sqlite) or PostgreSQL (driver
// "pgx", github.com/jackc/pgx/v5/stdlib), told apart by its driver; any
// other driver is refused. Replicas may open one PostgreSQL database at
// once. On PostgreSQL the listener, from the first Changed on, holds one of
// db's connections (mind db.SetMaxOpenConns); Close releases it.
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
	if o.Now == nil {
		o.Now = time.Now
	}
	d, err := dialectOf(db)
	if err != nil {
		return nil, err
	}
	if err := createTables(ctx, db, d); err != nil {
		return nil, fmt.Errorf("embedded queue: create tables: %w", err)
	}
	return &Queue{db: db, d: d, origin: rand.Text(), o: o, now: o.Now, change: make(chan struct{})}, nil
}

// Enqueue adds m, unless its id was accepted before: then it answers nil if
// m says the same (the same digest), and a fault.Conflict error if not.
func (q *Queue) Enqueue(ctx context.Context, m engagement.Message) error {
	_, err := q.Put(ctx, m)
	return err
}

// Put is Enqueue that also says whether m was queued now: false when the
// same message was accepted before (a sender's retry). The webhook counts
// duplicates by it (webhook.Putter). On SQLite, concurrent Puts share
// transactions (see group.go); it returns once m's is committed.
func (q *Queue) Put(ctx context.Context, m engagement.Message) (bool, error) {
	if q.d == sqliteDialect {
		return q.group.put(ctx, q, m)
	}
	queued := false
	err := q.tx(ctx, func(tx *sql.Tx) error {
		var err error
		queued, err = q.putIn(ctx, tx, m)
		return err
	})
	err = enqueueError(m, err)
	q.afterPut(ctx, queued)
	return queued, err
}

// PutAll adds every message in one transaction, all of them or none (a
// list imported at go-live), and returns how many were new: the others
// were taken before with the same content. A message taken before with
// other content fails the whole call (fault.Conflict); any other failure
// is transient.
func (q *Queue) PutAll(ctx context.Context, ms []engagement.Message) (queued int, err error) {
	err = q.tx(ctx, func(tx *sql.Tx) error {
		queued = 0
		for _, m := range ms {
			took, err := q.putIn(ctx, tx, m)
			if err != nil {
				return enqueueError(m, err)
			}
			if took {
				queued++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	q.afterPut(ctx, queued > 0)
	return queued, nil
}

// putIn adds m in tx unless its id was accepted before. A fault.Conflict
// error writes nothing, so the transaction may go on.
func (q *Queue) putIn(ctx context.Context, tx *sql.Tx, m engagement.Message) (queued bool, err error) {
	now := q.now().UnixNano()
	// On PostgreSQL a concurrent Enqueue of the same id makes this INSERT
	// wait for its end; the id is then known, as if it had come first,
	// rather than failing on the key.
	res, err := tx.ExecContext(ctx, q.d.bind("INSERT INTO accepted (id, digest, at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING"), m.ID, m.Digest, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 1 {
		return true, q.insert(ctx, tx, m, now)
	}
	var digest string
	if err := tx.QueryRowContext(ctx, q.d.bind("SELECT digest FROM accepted WHERE id = ?"), m.ID).Scan(&digest); err != nil {
		return false, err
	}
	if digest != m.Digest {
		return false, fault.Errorf(fault.Conflict, "embedded queue: %s was accepted before with other content", m.ID)
	}
	return false, nil
}

// enqueueError is what Put answers for err: a conflict as it is, any other
// failure as transient (the webhook answers 503 and the sender retries).
func enqueueError(m engagement.Message, err error) error {
	if err == nil || fault.Is(err, fault.Conflict) {
		return err
	}
	return fault.Wrap(fault.Transient, fmt.Errorf("embedded queue: enqueue %s: %w", m.ID, err))
}

// afterPut wakes the workers when something was queued, and prunes.
func (q *Queue) afterPut(ctx context.Context, queued bool) {
	if queued {
		q.changed(ctx)
	}
	q.prune(ctx)
}

// insert queues m behind its contractor's other messages.
func (q *Queue) insert(ctx context.Context, tx *sql.Tx, m engagement.Message, now int64) error {
	if err := lockGroup(ctx, tx, q.d, m.Group); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, q.d.bind(`INSERT INTO queue (id, grp, body, visible_at, enqueued) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`), m.ID, m.Group, m.Body, now, now)
	return err
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
		q.db.ExecContext(ctx, q.d.bind("DELETE FROM accepted WHERE at < ?"), q.now().Add(-q.o.Remember).UnixNano())
	}
}

func (q *Queue) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := q.db.BeginTx(ctx, q.d.txOptions())
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// signal wakes every Wait in this process.
func (q *Queue) signal() {
	q.mu.Lock()
	close(q.change)
	q.change = make(chan struct{})
	q.mu.Unlock()
}

// changed wakes every Wait, here and, on PostgreSQL, in the other
// replicas.
func (q *Queue) changed(ctx context.Context) {
	q.signal()
	q.notify(ctx)
}

// Changed returns a channel closed at the next change of the queue. Take it
// before Receive, and pass it to Wait when Receive found nothing, so that a
// message queued in between is not missed. On PostgreSQL the first call
// starts the listener that learns of other replicas' changes.
func (q *Queue) Changed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.startListener()
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
//
// On SQLite the transaction holds the file's write lock from its start, so
// receivers take turns. On PostgreSQL (READ COMMITTED) receivers in any
// process run at once, and this is why none takes a message another holds,
// nor a contractor's message while an earlier one of theirs is leased:
//
//   - A message is handed out only if it is its contractor's head (lowest
//     seq) in the snapshot of the SELECT, and visible (visible_at <= now)
//     in the latest committed version of its row, which FOR UPDATE reads
//     again when the row changed since the snapshot, dropping it if it no
//     longer qualifies. Each contractor has at most one candidate.
//   - Within a contractor, messages commit in seq order (insert takes the
//     contractor's advisory lock, see lockGroup). So a snapshot that holds
//     a message holds every earlier one not yet deleted, and a head stays
//     its contractor's head until it is deleted (Ack, DeadLetter); a later
//     message never becomes head while it is leased or backed off.
//   - Two receivers that pick the same head: the first locks it; the second
//     skips it (SKIP LOCKED), or, when the first has committed already,
//     locks it and finds it leased (visible_at in the future), so drops it.
//     Either way the second takes nothing of that contractor.
//   - The head acknowledged while another receiver selects: if the delete
//     committed before the SELECT's snapshot, the next message is the head,
//     rightly; if not, the old head is: leased and not visible; or, its
//     lease over, locked by the DELETE and skipped, or gone when locked.
//     The next message waits for the next Receive, which Ack's signal and
//     NOTIFY bring about.
//
// So a leased message stays its contractor's head, not visible, until it
// is settled or its lease ends (its worker is gone), and meanwhile no
// process hands out it or a later message of its contractor. "Visible" is
// judged by each receiver's clock: replicas' clocks must agree to well
// within Visibility.
func (q *Queue) Receive(ctx context.Context, max int) ([]Message, error) {
	tx, err := q.db.BeginTx(ctx, q.d.txOptions())
	if err != nil {
		return nil, fmt.Errorf("embedded queue: receive: %w", err)
	}
	defer tx.Rollback()
	now := q.now().UnixNano()
	rows, err := tx.QueryContext(ctx, q.d.bind(`
		SELECT q.seq, q.id, q.grp, q.body, q.attempts FROM queue q
		WHERE q.seq = (SELECT MIN(seq) FROM queue WHERE grp = q.grp)
		  AND q.visible_at <= ?
		ORDER BY q.seq LIMIT ?`+q.d.lockHeads()), now, max)
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
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("embedded queue: receive: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	lease := q.now().Add(q.o.Visibility).UnixNano()
	_, err = tx.ExecContext(ctx, q.d.bind(`UPDATE queue SET attempts = attempts + 1, leased = 1, visible_at = ?
		WHERE seq IN (?`+strings.Repeat(",?", len(seqs)-1)+`)`), append([]any{lease}, seqs...)...)
	if err != nil {
		return nil, fmt.Errorf("embedded queue: lease: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("embedded queue: lease: %w", err)
	}
	return out, nil
}

// Ack removes a handled message.
func (q *Queue) Ack(ctx context.Context, id string) error {
	_, err := q.db.ExecContext(ctx, q.d.bind("DELETE FROM queue WHERE id = ?"), id)
	if err != nil {
		return err
	}
	q.changed(ctx) // the contractor's next message may go
	return nil
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
	_, err := q.db.ExecContext(ctx, q.d.bind("UPDATE queue SET visible_at = ?, leased = 0 WHERE id = ?"), q.now().Add(delay).UnixNano(), m.ID)
	if err != nil {
		return err
	}
	q.changed(ctx) // waiters look at the new visibility
	return nil
}

// DeadLetter moves a message to the dead-letter list with the reason.
func (q *Queue) DeadLetter(ctx context.Context, m engagement.Message, reason error) error {
	err := q.tx(ctx, func(tx *sql.Tx) error {
		var attempts int
		err := tx.QueryRowContext(ctx, q.d.bind("SELECT attempts FROM queue WHERE id = ?"), m.ID).Scan(&attempts)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, q.d.bind("INSERT INTO dead_letters (id, grp, body, attempts, reason, code, at) VALUES (?, ?, ?, ?, ?, ?, ?)"),
			m.ID, m.Group, m.Body, attempts, reason.Error(), string(fault.CodeOf(reason)), q.now().UnixNano()); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, q.d.bind("DELETE FROM queue WHERE id = ?"), m.ID)
		return err
	})
	if err != nil {
		return err
	}
	q.changed(ctx)
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

// Replay puts a dead letter back on the queue (after the cause is fixed),
// behind its contractor's queued messages.
func (q *Queue) Replay(ctx context.Context, seq int64) error {
	return q.takeDead(ctx, seq, true)
}

// Drop removes a dead letter for good.
func (q *Queue) Drop(ctx context.Context, seq int64) error {
	return q.takeDead(ctx, seq, false)
}

func (q *Queue) takeDead(ctx context.Context, seq int64, replay bool) error {
	err := q.tx(ctx, func(tx *sql.Tx) error {
		var m engagement.Message
		err := tx.QueryRowContext(ctx, q.d.bind("SELECT id, grp, body FROM dead_letters WHERE seq = ?"), seq).Scan(&m.ID, &m.Group, &m.Body)
		if errors.Is(err, sql.ErrNoRows) {
			return fault.Errorf(fault.NotFound, "no dead letter %d (see stint dlq list)", seq)
		}
		if err != nil {
			return err
		}
		if replay {
			if err := q.insert(ctx, tx, m, q.now().UnixNano()); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, q.d.bind("DELETE FROM dead_letters WHERE seq = ?"), seq)
		return err
	})
	if err != nil {
		return err
	}
	q.changed(ctx)
	return nil
}

// Len counts the queued messages (leased ones included).
func (q *Queue) Len(ctx context.Context) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM queue").Scan(&n)
	return n, err
}
