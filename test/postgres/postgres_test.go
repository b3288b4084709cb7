package postgres

import (
	"database/sql"
	"testing"
)

// A started server answers SQL, and each test database is its own: a table
// made in one is not seen in another.
func TestServerGivesEachTestItsOwnDatabase(t *testing.T) {
	s := Start(t, Options{})
	a, b := s.Database(t), s.Database(t)
	if a == b {
		t.Fatalf("two databases at one URL %s", a)
	}
	da, err := sql.Open("pgx", a)
	if err != nil {
		t.Fatal(err)
	}
	defer da.Close()
	if _, err := da.Exec("CREATE TABLE t (x int); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	var x int
	if err := da.QueryRow("SELECT x FROM t").Scan(&x); err != nil || x != 42 {
		t.Fatalf("read back %d, %v; want 42", x, err)
	}
	db, err := sql.Open("pgx", b)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow("SELECT x FROM t").Scan(&x); err == nil {
		t.Error("the second database sees the first one's table")
	}
}
