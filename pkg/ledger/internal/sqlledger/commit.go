package sqlledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Commit stores a settle in one transaction: the contractor, the
// engagements, the handled events and the audit entries, or none of them.
// The contractor is written first, so that on PostgreSQL concurrent
// settles of one contractor queue on its row and all but the first find
// its version changed.
func (l *Ledger) Commit(ctx context.Context, ch engagement.Change) (engagement.Contractor, []engagement.Engagement, error) {
	var c engagement.Contractor
	var engs []engagement.Engagement
	err := l.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = l.putContractor(ctx, tx, ch.Contractor); err != nil {
			return err
		}
		engs = make([]engagement.Engagement, 0, len(ch.Engagements))
		for _, e := range ch.Engagements {
			stored, err := l.putEngagement(ctx, tx, e)
			if err != nil {
				return err
			}
			engs = append(engs, stored)
		}
		for _, seen := range ch.Seen {
			if err := l.putSeen(ctx, tx, seen); err != nil {
				return err
			}
		}
		return l.appendAudit(ctx, tx, ch.Audit)
	})
	if err != nil {
		return ch.Contractor, nil, err
	}
	return c, engs, nil
}

func (l *Ledger) putSeen(ctx context.Context, tx *sql.Tx, seen engagement.SeenEvent) error {
	if seen.At.IsZero() {
		seen.At = l.now()
	}
	seen.At = seen.At.UTC()
	body, err := json.Marshal(seen)
	if err != nil {
		return l.encodeError(err, "seen event %s", seen.Key)
	}
	res, err := tx.ExecContext(ctx, l.q("INSERT INTO seen (key, record) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"), seen.Key, body)
	return l.checkWritten(res, err, "seen event", seen.Key, 0)
}

// Seen reads the note of a handled event.
func (l *Ledger) Seen(ctx context.Context, key string) (engagement.SeenEvent, error) {
	var seen engagement.SeenEvent
	err := scanRecord(l.db.QueryRowContext(ctx, l.q("SELECT record FROM seen WHERE key = ?"), key), &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return seen, l.errorf(fault.NotFound, "event %q not seen", key)
	}
	return seen, l.wrap(err, "read seen event %s", key)
}

// Append adds entries to the audit trail in one transaction.
func (l *Ledger) Append(ctx context.Context, entries ...engagement.AuditEntry) error {
	return l.tx(ctx, func(tx *sql.Tx) error { return l.appendAudit(ctx, tx, entries) })
}

func (l *Ledger) appendAudit(ctx context.Context, tx *sql.Tx, entries []engagement.AuditEntry) error {
	for _, a := range entries {
		if a.ID == "" {
			a.ID = ulid.Make().String()
		}
		if a.At.IsZero() {
			a.At = l.now()
		}
		a.At = a.At.UTC()
		body, err := json.Marshal(a)
		if err != nil {
			return l.encodeError(err, "audit entry %s", a.ID)
		}
		_, err = tx.ExecContext(ctx, l.q("INSERT INTO audit (id, contractor, record) VALUES (?, ?, ?)"), a.ID, a.Contractor, body)
		if err != nil && l.d.UniqueViolation(err) {
			return l.errorf(fault.Conflict, "audit entry %s exists; the trail is append-only", a.ID)
		}
		if err != nil {
			return l.wrap(err, "append audit entry %s", a.ID)
		}
	}
	return nil
}

// Audit reads the trail, oldest first.
func (l *Ledger) Audit(ctx context.Context, q engagement.AuditQuery) ([]engagement.AuditEntry, error) {
	where, args := "", []any{}
	if q.Contractor != "" {
		where, args = "WHERE contractor = ?", append(args, q.Contractor)
	}
	// The newest Limit entries, returned oldest first.
	return records[engagement.AuditEntry](ctx, l, "audit", "SELECT record FROM (SELECT seq, record FROM audit "+where+
		" ORDER BY seq DESC LIMIT ?) newest ORDER BY seq", append(args, l.limit(q.Limit))...)
}

// Marks reads the notes whose key starts with prefix.
func (l *Ledger) Marks(ctx context.Context, prefix string) (map[string]string, error) {
	rows, err := l.db.QueryContext(ctx, l.q("SELECT key, value FROM marks WHERE "+l.d.StartsWith), prefix)
	if err != nil {
		return nil, l.wrap(err, "query marks")
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, l.wrap(err, "read mark")
		}
		out[k] = v
	}
	return out, l.wrap(rows.Err(), "query marks")
}

// SetMark writes a note.
func (l *Ledger) SetMark(ctx context.Context, key, value string) error {
	_, err := l.db.ExecContext(ctx, l.q("INSERT INTO marks (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"), key, value)
	return l.wrap(err, "set mark %s", key)
}

// DeleteMark removes a note.
func (l *Ledger) DeleteMark(ctx context.Context, key string) error {
	_, err := l.db.ExecContext(ctx, l.q("DELETE FROM marks WHERE key = ?"), key)
	return l.wrap(err, "delete mark %s", key)
}

// Lease takes the named lease with one statement, in a transaction: on
// SQLite it holds the file's write lock from its start (_txlock=immediate),
// so the lease is read and written under that lock. Of several holders
// racing for a free lease on PostgreSQL, one inserts the row; the others
// wait for its transaction, then find the row and its holder, and take
// nothing.
func (l *Ledger) Lease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	taken := false
	err := l.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, l.q(`INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
			WHERE leases.until <= ? OR leases.holder = excluded.holder`), name, holder, l.d.Time(until), l.d.Time(now))
		if err != nil {
			return l.wrap(err, "take lease %s", name)
		}
		n, err := res.RowsAffected()
		taken = n == 1
		return l.wrap(err, "take lease %s", name)
	})
	return taken, err
}

// Release gives the lease back if holder has it.
func (l *Ledger) Release(ctx context.Context, name, holder string) error {
	_, err := l.db.ExecContext(ctx, l.q("DELETE FROM leases WHERE name = ? AND holder = ?"), name, holder)
	return l.wrap(err, "release lease %s", name)
}
