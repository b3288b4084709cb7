package embedded

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// On PostgreSQL the replicas tell each other of changes with NOTIFY on
// this channel, the payload naming the Queue that made the change (its
// own listener ignores it: signal woke its Waits already). Each Queue
// whose Changed was called LISTENs on one connection of its own, named
// listenerName in pg_stat_activity.
const (
	channel      = "stint_queue"
	listenerName = "stint queue listener"
	// relisten is the pause before the listener connects again after its
	// connection failed; meanwhile Wait still returns within MaxWait.
	relisten = time.Second
)

// notify tells the other replicas' listeners that the queue changed. It is
// best effort: a notification lost is a change seen within MaxWait.
func (q *Queue) notify(ctx context.Context) {
	if q.d == postgresDialect {
		q.db.ExecContext(ctx, "SELECT pg_notify($1, $2)", channel, q.origin)
	}
}

// startListener starts the listener once, on PostgreSQL. Called with q.mu
// held.
func (q *Queue) startListener() {
	if q.d != postgresDialect || q.stopListener != nil || q.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	q.stopListener = func() { cancel(); <-done }
	go func() {
		defer close(done)
		for {
			q.listen(ctx)
			q.signal() // a change missed while it was down is looked for
			select {
			case <-ctx.Done():
				return
			case <-time.After(relisten):
			}
		}
	}()
}

// listen holds a connection that LISTENs, and wakes the Waits at each
// notification, until the connection fails or ctx ends. The connection is
// then discarded, never returned to the pool still listening.
func (q *Queue) listen(ctx context.Context) {
	conn, err := q.db.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return driver.ErrBadConn
		}
		pc := c.Conn()
		if _, err := pc.Exec(ctx, "SET application_name = '"+listenerName+"'; LISTEN "+channel); err != nil {
			return driver.ErrBadConn
		}
		q.signal() // changes made before the LISTEN took hold
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				return errors.Join(driver.ErrBadConn, err)
			}
			if n == nil || n.Payload != q.origin {
				q.signal()
			}
		}
	})
}

// Close stops the queue's listener on PostgreSQL and releases its
// connection; it does not close the database. A closed Queue still works,
// and sees other replicas' changes within MaxWait.
func (q *Queue) Close() error {
	q.mu.Lock()
	stop := q.stopListener
	q.stopListener = nil
	q.closed = true
	q.mu.Unlock()
	if stop != nil {
		stop()
	}
	return nil
}
