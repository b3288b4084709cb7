// Package sqlite is the embedded ledger: one SQLite file, pure Go (no cgo),
// in WAL mode so that readers never wait for the writer and two processes
// can share the file.
//
// Every write runs in a BEGIN IMMEDIATE transaction, which takes the file's
// write lock up front; a second process waits for it (busy_timeout) instead
// of failing half-way. Records are stored as JSON beside the columns the
// queries need, and the schema is migrated forward on open, tracked in
// PRAGMA user_version.
//
// This package opens, secures and migrates the file; the ledger's queries
// are pkg/ledger/internal/sqlledger's, shared with the PostgreSQL ledger,
// told by this package's dialect how SQLite stores times and limits.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger/internal/sqlledger"
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

// Ledger is an engagement.Ledger on a SQLite file. Its methods —
// engagement.Ledger's, DB, and Engagements, SeenEvents and Load for stint
// migrate — are the shared SQL ledger's (pkg/ledger/internal/sqlledger),
// which documents them.
type Ledger struct{ *shared }

// shared names the embedded ledger so that its field is unexported.
type shared = sqlledger.Ledger

// dialect is how the ledger's queries speak to SQLite: due_at and a
// lease's until are INTEGER unix nanoseconds; LIMIT -1 is no limit;
// transactions are BEGIN IMMEDIATE, from the _txlock of the file's URI.
var dialect = sqlledger.Dialect{
	Name:            "sqlite ledger",
	Time:            func(t time.Time) any { return t.UnixNano() },
	NoLimit:         -1,
	StartsWith:      "instr(key, ?) = 1", // SQLite has no starts_with
	Classify:        classify,
	UniqueViolation: uniqueViolation,
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
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite ledger: migrate %s: %w", path, err)
	}
	return &Ledger{sqlledger.New(db, dialect)}, nil
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
func migrate(ctx context.Context, db *sql.DB) error {
	version, err := schemaVersion(ctx, db)
	if err != nil || version == len(migrations) {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	defer tx.Rollback()
	version, err = schemaVersion(ctx, tx)
	if err != nil || version == len(migrations) {
		return err
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return err
	}
	return classify(tx.Commit())
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
