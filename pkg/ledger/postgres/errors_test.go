package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/stintdev/stint/pkg/fault"
	pgtest "github.com/stintdev/stint/test/postgres"
)

// The errors below are real ones, made by a real server, so that the test
// checks the codes pgx actually reports.

// Failures that may pass are transient, told apart by their SQLSTATE, a
// repeated key is a unique violation, and an error that merely reads like
// one of them is neither.
func TestErrorsAreClassifiedByCode(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	db, err := sql.Open("pgx", srv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE t (k int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0), (2, 0)"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		err             func(tb testing.TB) error
		state           string
		transient, uniq bool
	}{
		{"deadlock_detected", func(tb testing.TB) error { return deadlock(tb, db) }, "40P01", true, false},
		{"serialization_failure", func(tb testing.TB) error { return serializationFailure(tb, db) }, "40001", true, false},
		{"connection refused", func(tb testing.TB) error {
			other, _ := sql.Open("pgx", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable", closedPort(tb)))
			defer other.Close()
			return other.Ping()
		}, "", true, false},
		{"syntax_error", func(testing.TB) error { _, err := db.Exec("SELEC 1"); return err }, "42601", false, false},
		{"unique_violation", func(testing.TB) error { _, err := db.Exec("INSERT INTO t VALUES (1, 0)"); return err }, "23505", false, true},
		{"a message that reads like a deadlock", func(testing.TB) error {
			return errors.New("ERROR: deadlock detected (SQLSTATE 40P01)")
		}, "", false, false},
		{"a message that reads like a unique violation", func(testing.TB) error {
			return errors.New(`ERROR: duplicate key value violates unique constraint "audit_id_key" (SQLSTATE 23505)`)
		}, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err(t)
			if err == nil {
				t.Fatal("the scenario made no error")
			}
			if got := sqlState(err); got != tt.state {
				t.Fatalf("sqlState(%v) = %q, want %q", err, got, tt.state)
			}
			wrapped := fmt.Errorf("postgres ledger: write engagement ENG-1: %w", err)
			if got := fault.Is(classify(wrapped), fault.Transient); got != tt.transient {
				t.Errorf("classify(%v) transient = %v, want %v", wrapped, got, tt.transient)
			}
			if got := uniqueViolation(wrapped); got != tt.uniq {
				t.Errorf("uniqueViolation(%v) = %v, want %v", wrapped, got, tt.uniq)
			}
		})
	}
}

// deadlock makes two transactions lock rows 1 and 2 in opposite orders
// and returns the error of the one the server aborted.
func deadlock(tb testing.TB, db *sql.DB) error {
	tb.Helper()
	ctx := context.Background()
	a, b := begin(tb, db, nil), begin(tb, db, nil)
	defer a.Rollback()
	defer b.Rollback()
	mustExec(tb, a, "UPDATE t SET v = v + 1 WHERE k = 1")
	mustExec(tb, b, "UPDATE t SET v = v + 1 WHERE k = 2")
	errs := make(chan error, 2)
	go func() { _, err := a.ExecContext(ctx, "UPDATE t SET v = v + 1 WHERE k = 2"); errs <- err }()
	go func() { _, err := b.ExecContext(ctx, "UPDATE t SET v = v + 1 WHERE k = 1"); errs <- err }()
	err := <-errs
	if err == nil { // the survivor went first; the victim's error follows
		err = <-errs
	}
	return err
}

// serializationFailure updates one row from a repeatable-read transaction
// after another transaction changed it.
func serializationFailure(tb testing.TB, db *sql.DB) error {
	tb.Helper()
	tx := begin(tb, db, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	defer tx.Rollback()
	var v int
	if err := tx.QueryRow("SELECT v FROM t WHERE k = 1").Scan(&v); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Exec("UPDATE t SET v = v + 1 WHERE k = 1"); err != nil {
		tb.Fatal(err)
	}
	_, err := tx.Exec("UPDATE t SET v = v + 1 WHERE k = 1")
	return err
}

func begin(tb testing.TB, db *sql.DB, o *sql.TxOptions) *sql.Tx {
	tb.Helper()
	tx, err := db.BeginTx(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	return tx
}

func mustExec(tb testing.TB, tx *sql.Tx, stmt string) {
	tb.Helper()
	if _, err := tx.Exec(stmt); err != nil {
		tb.Fatal(err)
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
