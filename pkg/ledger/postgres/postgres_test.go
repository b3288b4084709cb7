package postgres_test

import (
	"context"
	"database/sql"
	"net"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/ledger/ledgertest"
	"github.com/stintdev/stint/pkg/ledger/postgres"
	pgtest "github.com/stintdev/stint/test/postgres"
)

// open opens a ledger on url, failing the test on error; the test closes it.
func open(tb testing.TB, url string, opts ...postgres.Option) *postgres.Ledger {
	tb.Helper()
	l, err := postgres.Open(context.Background(), url, opts...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

func TestConformance(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	ledgertest.Run(t, func(t *testing.T) engagement.Ledger { return open(t, srv.Database(t)) })
}

func day(n int) time.Time { return time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC).AddDate(0, 0, n) }

func TestReopenKeepsRecordsAndSchema(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Start(t, pgtest.Options{}).Database(t)
	l := open(t, url)
	ledgertest.Put(t, l, ledgertest.Record("ENG-1", "ana@partner.example", engagement.Active, day(-1), day(30)))
	l.Close()
	l = open(t, url)
	if got, err := l.Engagement(ctx, "ENG-1"); err != nil || got.Version != 1 {
		t.Errorf("after reopen: %+v, %v; want ENG-1 at version 1", got, err)
	}
}

// Text is stored as it was given, NUL characters and all (a json column
// keeps them; jsonb would refuse the record).
func TestRecordsKeepEveryCharacter(t *testing.T) {
	ctx := context.Background()
	l := open(t, pgtest.Start(t, pgtest.Options{}).Database(t))
	e := ledgertest.Record("ENG-1", "ana@partner.example", engagement.Active, day(-1), day(30))
	e.DisplayName = "Ana\x00 Lima \u00e9\U0001F600"
	ledgertest.Put(t, l, e)
	if got, err := l.Engagement(ctx, "ENG-1"); err != nil || got.DisplayName != e.DisplayName {
		t.Errorf("DisplayName = %q, %v; want %q", got.DisplayName, err, e.DisplayName)
	}
}

// The trigger refuses every change to stored audit entries, whoever makes
// it through SQL (here the superuser, which owns the table).
func TestAuditTrailIsAppendOnlyInTheDatabase(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t, pgtest.Options{})
	url := srv.Database(t)
	l := open(t, url)
	if err := l.Append(ctx, engagement.AuditEntry{Contractor: "ana@partner.example", Action: engagement.EventApplied, Detail: "kept"}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit SET record = '{}'`,
		`DELETE FROM audit`,
		`TRUNCATE audit`,
	} {
		if err := srv.Exec(dbName(t, url), stmt); err == nil || !strings.Contains(err.Error(), "the audit trail is append-only") {
			t.Errorf("%s: error = %v, want the append-only refusal", stmt, err)
		}
	}
	trail, err := l.Audit(ctx, engagement.AuditQuery{})
	if err != nil || len(trail) != 1 || trail[0].Detail != "kept" {
		t.Errorf("trail after the refused statements = %+v, %v; want the one entry unchanged", trail, err)
	}
}

// dbName is the database a test server's URL names.
func dbName(tb testing.TB, url string) string {
	tb.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// rawDB is a plain connection to url, closed when the test ends.
func rawDB(tb testing.TB, url string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// freePort is a loopback port nothing listens on.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
