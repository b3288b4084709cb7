package embedded_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/queue/embedded"
	"github.com/stintdev/stint/test/postgres"
)

// backend is a database the queue runs on in a test: the ledger's SQLite
// file, or a PostgreSQL database of the test's own.
type backend struct {
	// fresh makes an empty database and tells where it is.
	fresh func(t *testing.T) string
	// open opens the database at where, as a stint process would; it is
	// closed by the returned func or at the test's end.
	open func(t *testing.T, where string) (*sql.DB, func())
}

// eachBackend runs a test on SQLite, then on PostgreSQL (a server of the
// test's own, each test on a database of its own).
func eachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) { test(t, sqliteBackend()) })
	t.Run("postgres", func(t *testing.T) { test(t, postgresBackend(postgres.Start(t, postgres.Options{}))) })
}

func sqliteBackend() backend {
	return backend{
		fresh: func(t *testing.T) string { return filepath.Join(t.TempDir(), "stint.db") },
		open: func(t *testing.T, where string) (*sql.DB, func()) {
			t.Helper()
			l, err := sqlite.Open(context.Background(), where)
			if err != nil {
				t.Fatal(err)
			}
			closeOnce := sync.OnceFunc(func() { l.Close() })
			t.Cleanup(closeOnce)
			return l.DB(), closeOnce
		},
	}
}

func postgresBackend(srv *postgres.Server) backend {
	return backend{
		fresh: func(t *testing.T) string { return srv.Database(t) },
		open: func(t *testing.T, where string) (*sql.DB, func()) {
			t.Helper()
			db, err := sql.Open("pgx", where)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, func() { db.Close() }
		},
	}
}

// openQueue opens the queue in the database at where; the returned func
// (or the test's end) closes the queue, then the database.
func openQueue(t *testing.T, b backend, where string, o embedded.Options) (*embedded.Queue, func()) {
	t.Helper()
	db, closeDB := b.open(t, where)
	q, err := embedded.Open(context.Background(), db, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q, func() { q.Close(); closeDB() }
}
