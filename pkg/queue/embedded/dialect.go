package embedded

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"

	"github.com/stintdev/stint/pkg/sqlnum"
)

// dialect is the SQL the queue's database speaks. The queries are written
// once, with ? placeholders; only the schema, the placeholders and the
// row locks of Receive differ.
type dialect int

const (
	sqliteDialect dialect = iota
	postgresDialect
)

// dialectOf tells the dialect from db's driver: modernc.org/sqlite's
// ("sqlite") or pgx's ("pgx", github.com/jackc/pgx/v5/stdlib).
func dialectOf(db *sql.DB) (dialect, error) {
	switch d := db.Driver().(type) {
	case *sqlite.Driver:
		return sqliteDialect, nil
	case *stdlib.Driver:
		return postgresDialect, nil
	default:
		return 0, fmt.Errorf("embedded queue: the database's driver %T is neither SQLite nor PostgreSQL: open it with driver \"sqlite\" (modernc.org/sqlite) or \"pgx\" (github.com/jackc/pgx/v5/stdlib)", d)
	}
}

// bind rewrites the ? placeholders for PostgreSQL ($1, $2, ...). The
// queue's queries have no ? inside a string literal.
func (d dialect) bind(query string) string {
	if d != postgresDialect {
		return query
	}
	return sqlnum.Numbered(query)
}

// lockHeads ends Receive's SELECT of the contractors' heads. SQLite needs
// nothing: the ledger opens it with _txlock=immediate, so Receive's
// transaction holds the file's write lock from its start. PostgreSQL locks
// the rows it hands out and skips those another transaction holds (see
// Receive for why this keeps each contractor's order).
func (d dialect) lockHeads() string {
	if d == postgresDialect {
		return " FOR UPDATE OF q SKIP LOCKED"
	}
	return ""
}

// txOptions are the queue's transactions' options: on PostgreSQL, READ
// COMMITTED whatever the server's default, which Enqueue and Receive are
// written for; SQLite's transactions are serializable.
func (d dialect) txOptions() *sql.TxOptions {
	if d == postgresDialect {
		return &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return nil
}

// Times are unix nanoseconds, taken from Options.Now of the process that
// writes them, in both dialects.
const sqliteSchema = `
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

const postgresSchema = `
CREATE TABLE IF NOT EXISTS queue (
	seq        BIGSERIAL PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	grp        TEXT NOT NULL,
	body       BYTEA NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	visible_at BIGINT NOT NULL,       -- unix ns; leased while in the future
	leased     INTEGER NOT NULL DEFAULT 0,
	enqueued   BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_by_group ON queue (grp, seq);
CREATE TABLE IF NOT EXISTS accepted (
	id     TEXT PRIMARY KEY,
	digest TEXT NOT NULL,
	at     BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS accepted_by_time ON accepted (at);
CREATE TABLE IF NOT EXISTS dead_letters (
	seq      BIGSERIAL PRIMARY KEY,
	id       TEXT NOT NULL,
	grp      TEXT NOT NULL,
	body     BYTEA NOT NULL,
	attempts INTEGER NOT NULL,
	reason   TEXT NOT NULL,
	code     TEXT NOT NULL,
	at       BIGINT NOT NULL
);`

// Advisory lock keys on PostgreSQL. The two-key form (lockSpace, group)
// lives apart from the one-key form of schemaLock, so neither collides
// with the other.
const (
	// schemaLock serializes the replicas' table creation: two concurrent
	// CREATE TABLE IF NOT EXISTS of one table can both pass the "not
	// exists" check, and the second then fails on the catalog's unique
	// index.
	schemaLock = 0x5374696e74510001 // "StintQ", 1
	// lockSpace holds one lock per contractor, hashed: see insert.
	lockSpace = 0x53745151 // "StQQ"
)

// createTables creates the queue's tables if needed. On PostgreSQL the
// statements run in one transaction under an advisory lock held until its
// end, so that replicas opening one database at once wait for each other.
func createTables(ctx context.Context, db *sql.DB, d dialect) error {
	if d == sqliteDialect {
		_, err := db.ExecContext(ctx, sqliteSchema)
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, postgresSchema); err != nil {
		return err
	}
	return tx.Commit()
}

// lockGroup makes a transaction that adds to group's messages the only
// one doing so until it ends (PostgreSQL; SQLite's writes are serialized
// already). Then, within a group, messages commit in the order of their
// seq: a transaction that took seq 10 has committed before another takes
// seq 11. Without it, seq 11 could commit first, be handed out as the
// group's head, and seq 10, committed a moment later, be the head again,
// handed out while 11 is still leased. Contractors whose names hash alike
// share a lock, which only makes their enqueues wait for each other.
func lockGroup(ctx context.Context, tx *sql.Tx, d dialect, group string) error {
	if d != postgresDialect {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockSpace, group)
	return err
}
