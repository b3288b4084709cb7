// Package sqlite is the embedded ledger: one SQLite file, pure Go (no cgo),
// in WAL mode so that readers never wait for the writer and two processes
// can share the file.
//
// Every write runs in a BEGIN IMMEDIATE transaction, which takes the file's
// write lock up front; a second process waits for it (busy_timeout) instead
// of failing half-way. Records are stored as JSON beside the columns the
// queries need, and the schema is migrated forward on open, tracked in
// PRAGMA user_version.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// BusyTimeout is how long a writer waits for another process's write lock.
const BusyTimeout = 10 * time.Second

// migrations upgrade the schema; migration i brings user_version to i+1.
// Append, never edit.
var migrations = []string{
	`CREATE TABLE engagements (
		id         TEXT PRIMARY KEY,
		contractor TEXT NOT NULL,
		state      TEXT NOT NULL,
		due_at     INTEGER,           -- unix nanoseconds; NULL once ended
		version    INTEGER NOT NULL,
		record     TEXT NOT NULL      -- engagement.Engagement as JSON
	);
	CREATE INDEX engagements_by_contractor ON engagements (contractor, id);
	CREATE INDEX engagements_due ON engagements (state, due_at) WHERE due_at IS NOT NULL;
	CREATE TABLE contractors (
		key     TEXT PRIMARY KEY,
		version INTEGER NOT NULL,
		record  TEXT NOT NULL
	);
	CREATE TABLE audit (
		seq        INTEGER PRIMARY KEY AUTOINCREMENT,
		id         TEXT NOT NULL UNIQUE,
		contractor TEXT NOT NULL,
		record     TEXT NOT NULL
	);
	CREATE INDEX audit_by_contractor ON audit (contractor, seq);
	CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
		BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
	CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
		BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;`,
	`CREATE TABLE marks (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
	// Handled events move out of the engagement records (which kept their
	// ids in a list that grew with every event) into a table of their own.
	// Events handled before are carried over by id under the record's
	// newest source, with no digest: a resend of one is a duplicate.
	`CREATE TABLE seen (key TEXT PRIMARY KEY, record TEXT NOT NULL);
	INSERT OR IGNORE INTO seen (key, record)
		SELECT json_extract(e.record, '$.source') || ' ' || j.value,
			json_object('key', json_extract(e.record, '$.source') || ' ' || j.value, 'digest', '',
				'engagement', e.id, 'outcome', 'applied', 'at', json_extract(e.record, '$.updatedAt'))
		FROM engagements e, json_each(e.record, '$.eventIds') j;`,
	// The tick asks for everything due, whatever its state (a retry of a
	// reopened engagement is due while ended).
	`CREATE INDEX engagements_due_at ON engagements (due_at, id) WHERE due_at IS NOT NULL;`,
	`CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL);`,
}

// Ledger is an engagement.Ledger on a SQLite file.
type Ledger struct {
	db  *sql.DB
	now func() time.Time
}

var _ engagement.Ledger = (*Ledger)(nil)

// Open opens (creating if needed) the ledger at path and migrates it.
//
// The file and its -wal and -shm companions are made owner-only (see
// makePrivate), the file is switched to WAL once (see enableWAL), and the
// schema is migrated; several processes may do all three at once.
func Open(ctx context.Context, path string) (*Ledger, error) {
	if path == "" {
		return nil, fault.Errorf(fault.Invalid, "sqlite ledger: empty path (want sqlite:///var/lib/stint/stint.db)")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite ledger: create directory for %s: %w", path, err)
		}
	}
	if err := makePrivate(path); err != nil {
		return nil, err
	}
	// No journal_mode here: every new connection would run it, and on a
	// file not yet in WAL it fails at once when another process holds a
	// lock (see enableWAL). WAL is a property of the file, which every
	// connection finds in its header.
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+uriPath.Replace(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite ledger: open %s: %w", path, err)
	}
	if err := enableWAL(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite ledger: switch %s to WAL: %w", path, err)
	}
	l := &Ledger{db: db, now: time.Now}
	if err := l.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite ledger: migrate %s: %w", path, err)
	}
	return l, nil
}

// uriPath escapes the characters that a SQLite URI file name gives a
// meaning (a query, a fragment, a %-escape), so that the path names the
// file it says.
var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// enableWAL puts the file in WAL mode, retrying for up to BusyTimeout while
// another process holds a lock. It runs before anything else uses db, so on
// the pool's first connection.
//
// It retries itself because SQLite does not: on a file not yet in WAL,
// PRAGMA journal_mode=WAL reads the header and then upgrades that read to a
// write, and SQLite never calls the busy handler for such an upgrade (two
// upgraders waiting for each other would deadlock), so busy_timeout does
// not help. Two processes opening a fresh file at once hit this a few
// times in a hundred. Once the file is in WAL the pragma changes nothing.
func enableWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(BusyTimeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		var mode string
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		switch {
		case err == nil && mode == "wal":
			return nil
		case err == nil:
			return fmt.Errorf("journal mode is %q after asking for WAL; put the ledger on a local file system", mode)
		case !busy(err) || time.Now().Add(wait).After(deadline):
			return classify(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// migrate brings the schema to the newest version. Concurrent openers are
// safe: the migrations run in one BEGIN IMMEDIATE transaction, which the
// others wait for (busy_timeout), and each re-reads the version once it
// holds the write lock, so every migration runs once. An up-to-date file
// needs no write lock at all.
func (l *Ledger) migrate(ctx context.Context) error {
	version, err := schemaVersion(ctx, l.db)
	if err != nil || version == len(migrations) {
		return err
	}
	return l.tx(ctx, func(tx *sql.Tx) error {
		version, err := schemaVersion(ctx, tx)
		if err != nil || version == len(migrations) {
			return err
		}
		for i := version; i < len(migrations); i++ {
			if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		_, err = tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations)))
		return err
	})
}

// rowQuerier is a *sql.DB or a *sql.Tx.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// schemaVersion reads PRAGMA user_version and refuses a schema newer than
// this build knows.
func schemaVersion(ctx context.Context, q rowQuerier) (int, error) {
	var version int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, classify(err)
	}
	if version > len(migrations) {
		return 0, fmt.Errorf("schema version %d is newer than this stint knows (%d); upgrade stint", version, len(migrations))
	}
	return version, nil
}

// DB is the database handle, for the embedded queue that shares the file.
func (l *Ledger) DB() *sql.DB { return l.db }

// Close closes the database.
func (l *Ledger) Close() error { return l.db.Close() }

func (l *Ledger) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return classify(tx.Commit())
}

// Engagement reads one record.
func (l *Ledger) Engagement(ctx context.Context, id string) (engagement.Engagement, error) {
	var e engagement.Engagement
	err := scanRecord(l.db.QueryRowContext(ctx, "SELECT record FROM engagements WHERE id = ?", id), &e)
	if errors.Is(err, sql.ErrNoRows) {
		return e, fault.Errorf(fault.NotFound, "sqlite ledger: engagement %q not found", id)
	}
	return e, wrap(err, "read engagement %s", id)
}

// putEngagement writes e, if its Version is the stored one, inside a
// Commit's transaction.
func (l *Ledger) putEngagement(ctx context.Context, tx *sql.Tx, e engagement.Engagement) (engagement.Engagement, error) {
	if e.ID == "" || e.Contractor == "" {
		return e, fault.Errorf(fault.Invalid, "sqlite ledger: engagement needs an id and a contractor")
	}
	stored := e
	stored.Version, stored.UpdatedAt = e.Version+1, l.now().UTC()
	body, err := json.Marshal(stored)
	if err != nil {
		return e, fmt.Errorf("sqlite ledger: encode engagement %s: %w", e.ID, err)
	}
	var due any
	if t := stored.DueAt(); !t.IsZero() {
		due = t.UnixNano()
	}
	var res sql.Result
	if e.Version == 0 {
		res, err = tx.ExecContext(ctx, `INSERT INTO engagements (id, contractor, state, due_at, version, record)
			VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (id) DO NOTHING`, e.ID, e.Contractor, string(e.State), due, body)
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE engagements SET contractor = ?, state = ?, due_at = ?, version = ?, record = ?
			WHERE id = ? AND version = ?`, e.Contractor, string(e.State), due, stored.Version, body, e.ID, e.Version)
	}
	if err := checkWritten(res, err, "engagement", e.ID, e.Version); err != nil {
		return e, err
	}
	return stored, nil
}

// ContractorEngagements lists a contractor's engagements by id.
func (l *Ledger) ContractorEngagements(ctx context.Context, key string) ([]engagement.Engagement, error) {
	return l.engagements(ctx, "SELECT record FROM engagements WHERE contractor = ? ORDER BY id", key)
}

// Due lists the records whose due time has come, oldest first.
func (l *Ledger) Due(ctx context.Context, now time.Time, limit int) ([]engagement.Engagement, error) {
	return l.engagements(ctx, `SELECT record FROM engagements WHERE due_at IS NOT NULL AND due_at <= ?
		ORDER BY due_at, id LIMIT ?`, now.UnixNano(), limitOrAll(limit))
}

// Active yields the records in State active, a page at a time so that a
// long reconcile does not hold one read transaction open.
func (l *Ledger) Active(ctx context.Context) iter.Seq2[engagement.Engagement, error] {
	const page = 500
	return func(yield func(engagement.Engagement, error) bool) {
		after := ""
		for {
			recs, err := l.engagements(ctx, `SELECT record FROM engagements WHERE state = ? AND id > ? ORDER BY id LIMIT ?`,
				string(engagement.Active), after, page)
			if err != nil {
				yield(engagement.Engagement{}, err)
				return
			}
			for _, e := range recs {
				if !yield(e, nil) {
					return
				}
			}
			if len(recs) < page {
				return
			}
			after = recs[len(recs)-1].ID
		}
	}
}

func (l *Ledger) engagements(ctx context.Context, query string, args ...any) ([]engagement.Engagement, error) {
	rows, err := l.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(err, "query engagements")
	}
	defer rows.Close()
	var out []engagement.Engagement
	for rows.Next() {
		var e engagement.Engagement
		if err := scanRecord(rows, &e); err != nil {
			return nil, wrap(err, "read engagement")
		}
		out = append(out, e)
	}
	return out, wrap(rows.Err(), "query engagements")
}

// Contractors yields every contractor record, a page at a time.
func (l *Ledger) Contractors(ctx context.Context) iter.Seq2[engagement.Contractor, error] {
	const page = 500
	return func(yield func(engagement.Contractor, error) bool) {
		after := ""
		for {
			rows, err := l.db.QueryContext(ctx, "SELECT key, record FROM contractors WHERE key > ? ORDER BY key LIMIT ?", after, page)
			if err != nil {
				yield(engagement.Contractor{}, wrap(err, "query contractors"))
				return
			}
			var batch []engagement.Contractor
			for rows.Next() {
				var body string
				var c engagement.Contractor
				err := rows.Scan(&after, &body)
				if err == nil {
					err = json.Unmarshal([]byte(body), &c)
				}
				if err != nil {
					rows.Close()
					yield(c, wrap(err, "read contractor"))
					return
				}
				batch = append(batch, c)
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				yield(engagement.Contractor{}, wrap(err, "query contractors"))
				return
			}
			for _, c := range batch {
				if !yield(c, nil) {
					return
				}
			}
			if len(batch) < page {
				return
			}
		}
	}
}

// Marks reads the notes whose key starts with prefix.
func (l *Ledger) Marks(ctx context.Context, prefix string) (map[string]string, error) {
	rows, err := l.db.QueryContext(ctx, "SELECT key, value FROM marks WHERE substr(key, 1, ?) = ?", len(prefix), prefix)
	if err != nil {
		return nil, wrap(err, "query marks")
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, wrap(err, "read mark")
		}
		out[k] = v
	}
	return out, wrap(rows.Err(), "query marks")
}

// SetMark writes a note.
func (l *Ledger) SetMark(ctx context.Context, key, value string) error {
	_, err := l.db.ExecContext(ctx, "INSERT INTO marks (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	return wrap(err, "set mark %s", key)
}

// DeleteMark removes a note.
func (l *Ledger) DeleteMark(ctx context.Context, key string) error {
	_, err := l.db.ExecContext(ctx, "DELETE FROM marks WHERE key = ?", key)
	return wrap(err, "delete mark %s", key)
}

// Contractor reads what stint applied for one contractor.
func (l *Ledger) Contractor(ctx context.Context, key string) (engagement.Contractor, error) {
	var c engagement.Contractor
	err := scanRecord(l.db.QueryRowContext(ctx, "SELECT record FROM contractors WHERE key = ?", key), &c)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fault.Errorf(fault.NotFound, "sqlite ledger: contractor %q not found", key)
	}
	return c, wrap(err, "read contractor %s", key)
}

// PutContractor stores c if its Version is the stored one.
func (l *Ledger) PutContractor(ctx context.Context, c engagement.Contractor) (engagement.Contractor, error) {
	var stored engagement.Contractor
	err := l.tx(ctx, func(tx *sql.Tx) error {
		var err error
		stored, err = l.putContractor(ctx, tx, c)
		return err
	})
	if err != nil {
		return c, err
	}
	return stored, nil
}

func (l *Ledger) putContractor(ctx context.Context, tx *sql.Tx, c engagement.Contractor) (engagement.Contractor, error) {
	if c.Key == "" {
		return c, fault.Errorf(fault.Invalid, "sqlite ledger: contractor needs a key")
	}
	stored := c
	stored.Version, stored.UpdatedAt = c.Version+1, l.now().UTC()
	body, err := json.Marshal(stored)
	if err != nil {
		return c, fmt.Errorf("sqlite ledger: encode contractor %s: %w", c.Key, err)
	}
	var res sql.Result
	if c.Version == 0 {
		res, err = tx.ExecContext(ctx, `INSERT INTO contractors (key, version, record) VALUES (?, 1, ?)
			ON CONFLICT (key) DO NOTHING`, c.Key, body)
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE contractors SET version = ?, record = ? WHERE key = ? AND version = ?`,
			stored.Version, body, c.Key, c.Version)
	}
	if err := checkWritten(res, err, "contractor", c.Key, c.Version); err != nil {
		return c, err
	}
	return stored, nil
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
			return fmt.Errorf("sqlite ledger: encode audit entry: %w", err)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO audit (id, contractor, record) VALUES (?, ?, ?)", a.ID, a.Contractor, body)
		if err != nil && uniqueViolation(err) {
			return fault.Errorf(fault.Conflict, "sqlite ledger: audit entry %s exists; the trail is append-only", a.ID)
		}
		if err != nil {
			return wrap(err, "append audit entry")
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
	query := "SELECT record FROM (SELECT seq, record FROM audit " + where + " ORDER BY seq DESC LIMIT ?) ORDER BY seq"
	args = append(args, limitOrAll(q.Limit))
	rows, err := l.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(err, "query audit")
	}
	defer rows.Close()
	var out []engagement.AuditEntry
	for rows.Next() {
		var a engagement.AuditEntry
		if err := scanRecord(rows, &a); err != nil {
			return nil, wrap(err, "read audit entry")
		}
		out = append(out, a)
	}
	return out, wrap(rows.Err(), "query audit")
}

type scanner interface{ Scan(...any) error }

func scanRecord(s scanner, into any) error {
	var body string
	if err := s.Scan(&body); err != nil {
		return err
	}
	return json.Unmarshal([]byte(body), into)
}

// checkWritten turns "no row written" into the conflict a losing writer gets.
func checkWritten(res sql.Result, err error, kind, key string, version int64) error {
	if err != nil {
		return wrap(err, "write %s %s", kind, key)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(err, "write %s %s", kind, key)
	}
	if n == 0 {
		if version == 0 {
			return fault.Errorf(fault.Conflict, "sqlite ledger: %s %s already exists", kind, key)
		}
		return fault.Errorf(fault.Conflict, "sqlite ledger: %s %s changed since version %d was read", kind, key, version)
	}
	return nil
}

func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return classify(fmt.Errorf("sqlite ledger: "+format+": %w", append(args, err)...))
}

func limitOrAll(n int) int {
	if n <= 0 {
		return -1 // SQLite: no limit
	}
	return n
}
