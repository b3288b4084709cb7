package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/stintdev/stint/pkg/fault"
)

// The errors below are real ones, made by SQLite on a scratch file, so that
// the test checks the codes the driver actually reports.

// Errors are told apart by their SQLite code: busy and locked ones (with
// their extended codes) are transient, a repeated unique or primary key is
// a conflict, and an error that merely reads like one of them is neither.
func TestErrorsAreClassifiedByCode(t *testing.T) {
	tests := []struct {
		name            string
		err             func(tb testing.TB) error
		code            int // the code the scenario must make
		transient, uniq bool
	}{
		{"SQLITE_BUSY: another connection holds the write lock", busyError, sqlite3.SQLITE_BUSY, true, false},
		{"SQLITE_BUSY_SNAPSHOT: a stale read cannot become a write", busySnapshotError, sqlite3.SQLITE_BUSY_SNAPSHOT, true, false},
		{"SQLITE_LOCKED: a table is in use on the same connection", lockedError, sqlite3.SQLITE_LOCKED, true, false},
		{"SQLITE_BUSY, wrapped with context", func(tb testing.TB) error {
			return fmt.Errorf("sqlite ledger: write engagement ENG-1: %w", busyError(tb))
		}, sqlite3.SQLITE_BUSY, true, false},
		{"SQLITE_CONSTRAINT_UNIQUE", constraintError("INSERT INTO t (u) VALUES ('a'), ('a')"), sqlite3.SQLITE_CONSTRAINT_UNIQUE, false, true},
		{"SQLITE_CONSTRAINT_PRIMARYKEY", constraintError("INSERT INTO t (k) VALUES ('a'), ('a')"), sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, false, true},
		{"SQLITE_CONSTRAINT_NOTNULL", constraintError("INSERT INTO t (k, n) VALUES ('a', NULL)"), sqlite3.SQLITE_CONSTRAINT_NOTNULL, false, false},
		{"a message that reads like busy", func(testing.TB) error {
			return errors.New("database is locked (5) (SQLITE_BUSY)")
		}, 0, false, false},
		{"a message that reads like a unique violation", func(testing.TB) error {
			return errors.New("UNIQUE constraint failed: audit.id")
		}, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err(t)
			if err == nil {
				t.Fatal("the scenario made no error")
			}
			if got := code(err); got != tt.code {
				t.Fatalf("code(%v) = %d, want %d", err, got, tt.code)
			}
			if got := fault.Is(classify(err), fault.Transient); got != tt.transient {
				t.Errorf("classify(%v) transient = %v, want %v", err, got, tt.transient)
			}
			if got := uniqueViolation(err); got != tt.uniq {
				t.Errorf("uniqueViolation(%v) = %v, want %v", err, got, tt.uniq)
			}
		})
	}
}

// rawDB opens a scratch WAL file with SQLite's defaults: no busy timeout,
// so a lock conflict fails at once.
func rawDB(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(tb.TempDir(), "scratch.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	for _, stmt := range []string{
		"PRAGMA journal_mode=WAL",
		"CREATE TABLE t (k TEXT PRIMARY KEY, u TEXT UNIQUE, n TEXT NOT NULL DEFAULT '')",
		"INSERT INTO t (k) VALUES ('x'), ('y')",
	} {
		if _, err := db.Exec(stmt); err != nil {
			tb.Fatalf("%s: %v", stmt, err)
		}
	}
	return db
}

// conn takes one connection of db for the test, so that a transaction
// begun with Exec stays on it.
func conn(tb testing.TB, db *sql.DB) *sql.Conn {
	tb.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func exec(tb testing.TB, c *sql.Conn, stmt string) {
	tb.Helper()
	if _, err := c.ExecContext(context.Background(), stmt); err != nil {
		tb.Fatalf("%s: %v", stmt, err)
	}
}

func busyError(tb testing.TB) error {
	db := rawDB(tb)
	holder, waiter := conn(tb, db), conn(tb, db)
	exec(tb, holder, "BEGIN IMMEDIATE")
	defer exec(tb, holder, "ROLLBACK")
	_, err := waiter.ExecContext(context.Background(), "BEGIN IMMEDIATE")
	return err
}

func busySnapshotError(tb testing.TB) error {
	db := rawDB(tb)
	reader, writer := conn(tb, db), conn(tb, db)
	exec(tb, reader, "BEGIN")
	defer reader.ExecContext(context.Background(), "ROLLBACK")
	exec(tb, reader, "SELECT count(*) FROM t")
	exec(tb, writer, "INSERT INTO t (k) VALUES ('z')")
	_, err := reader.ExecContext(context.Background(), "INSERT INTO t (k) VALUES ('w')")
	return err
}

func lockedError(tb testing.TB) error {
	c := conn(tb, rawDB(tb))
	rows, err := c.QueryContext(context.Background(), "SELECT k FROM t")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	rows.Next()
	_, err = c.ExecContext(context.Background(), "DROP TABLE t")
	return err
}

func constraintError(stmt string) func(tb testing.TB) error {
	return func(tb testing.TB) error {
		_, err := rawDB(tb).Exec(stmt)
		return err
	}
}
