package postgres

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"

	pgtest "github.com/stintdev/stint/test/postgres"
)

// Migrations run in order, each once, in one transaction: a failing one
// leaves the database as it was before the run (the earlier migrations of
// the same run included), and a later run picks up where the last
// successful one stopped.
func TestMigrationsRunInOrderAllOrNothing(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", pgtest.Start(t, pgtest.Options{}).Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m1 := "CREATE TABLE one (x int)"
	m2 := "CREATE TABLE two (x int); INSERT INTO one VALUES (2)"
	broken := "CREATE TABLE two (x int); SELECT * FROM no_such_table"

	err = migrate(ctx, db, []string{m1, broken})
	if err == nil || !strings.Contains(err.Error(), "migration 2:") {
		t.Fatalf("migrate with a broken migration 2: error = %v, want it to name migration 2", err)
	}
	if got := tables(t, db); len(got) != 0 {
		t.Errorf("tables after the failed run = %v, want none (migration 1 and ledger_schema rolled back)", got)
	}

	if err := migrate(ctx, db, []string{m1}); err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, []string{m1, m2}); err != nil {
		t.Fatalf("migrate from version 1 to 2: %v", err)
	}
	if err := migrate(ctx, db, []string{m1, m2}); err != nil {
		t.Fatalf("migrate an up-to-date database: %v", err)
	}
	if got := tables(t, db); !slices.Equal(got, []string{"ledger_schema", "one", "two"}) {
		t.Errorf("tables = %v, want ledger_schema, one, two", got)
	}
	var versions []int
	rows, err := db.Query("SELECT version FROM ledger_schema ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		rows.Scan(&v)
		versions = append(versions, v)
	}
	if !slices.Equal(versions, []int{1, 2}) {
		t.Errorf("ledger_schema versions = %v, want 1 and 2, each once", versions)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM one").Scan(&n); err != nil || n != 1 {
		t.Errorf("rows migration 2 inserted = %d, %v; want 1 (it ran once)", n, err)
	}
}

func tables(tb testing.TB, db *sql.DB) []string {
	tb.Helper()
	rows, err := db.Query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			tb.Fatal(err)
		}
		out = append(out, name)
	}
	return out
}
