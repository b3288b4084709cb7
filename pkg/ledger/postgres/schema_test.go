package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/ledger/ledgertest"
	"github.com/stintdev/stint/pkg/ledger/postgres"
	pgtest "github.com/stintdev/stint/test/postgres"
)

// Replicas started together on a fresh database all open it: the advisory
// lock makes them migrate one after the other, and every one but the first
// finds the work done (a migration run twice fails on its CREATE TABLE).
func TestReplicasOpeningOneFreshDatabaseAllSucceed(t *testing.T) {
	const replicas, rounds = 8, 5
	srv := pgtest.Start(t, pgtest.Options{})
	for round := range rounds {
		url := srv.Database(t)
		var wg sync.WaitGroup
		errs := make([]error, replicas)
		start := make(chan struct{})
		for i := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				l, err := postgres.Open(context.Background(), url)
				if err == nil {
					id := fmt.Sprintf("ENG-%d", i)
					e := ledgertest.Record(id, strings.ToLower(id)+"@partner.example", engagement.Active, day(-1), day(30))
					_, _, err = l.Commit(context.Background(), engagement.Change{Contractor: engagement.Contractor{Key: e.Contractor}, Engagements: []engagement.Engagement{e}})
					l.Close()
				}
				errs[i] = err
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, replica %d: %v", round+1, i, err)
			}
		}
		var versions, newest int
		if err := rawDB(t, url).QueryRow("SELECT count(*), max(version) FROM ledger_schema").Scan(&versions, &newest); err != nil {
			t.Fatal(err)
		}
		if versions != newest {
			t.Errorf("round %d: ledger_schema has %d rows up to version %d; want each version once", round+1, versions, newest)
		}
	}
}

// A database a newer stint migrated is refused, with one message that says
// which version it is at, which this stint knows, and what to do.
func TestRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t, pgtest.Options{})
	url := srv.Database(t)
	l := open(t, url)
	var known int
	if err := l.DB().QueryRowContext(ctx, "SELECT max(version) FROM ledger_schema").Scan(&known); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := srv.Exec(dbName(t, url), fmt.Sprintf("INSERT INTO ledger_schema (version) VALUES (%d)", known+1)); err != nil {
		t.Fatal(err)
	}
	_, err := postgres.Open(ctx, url)
	for _, want := range []string{
		fmt.Sprintf("ledger schema is at version %d, newer than this stint", known+1),
		fmt.Sprintf("knows (version %d)", known),
		"upgrade this stint",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open of a newer schema: error = %v, want it to say %q", err, want)
		}
	}
}

// Once migrated, the database opens for a role that may use the ledger's
// tables but not create any: the migration check creates nothing.
func TestAMigratedDatabaseOpensForARoleThatCannotCreate(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t, pgtest.Options{})
	url := srv.Database(t)
	open(t, url).Close()
	db := dbName(t, url)
	if err := srv.Exec(db, `CREATE ROLE "stint-rw" LOGIN;
		REVOKE CREATE ON SCHEMA public FROM PUBLIC;
		GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "stint-rw"`); err != nil {
		t.Fatal(err)
	}
	rw := strings.Replace(url, "postgres@", "stint-rw@", 1)
	var create bool
	if err := rawDB(t, rw).QueryRowContext(ctx, "SELECT has_schema_privilege('public', 'CREATE')").Scan(&create); err != nil || create {
		t.Fatalf("stint-rw may create in public: %v, %v; the test needs a role that may not", create, err)
	}
	l := open(t, rw)
	ledgertest.Put(t, l, ledgertest.Record("ENG-1", "ana@partner.example", engagement.Active, day(-1), day(30)))
	if err := l.Append(ctx, engagement.AuditEntry{Contractor: "ana@partner.example", Action: engagement.EventApplied}); err != nil {
		t.Errorf("Append as stint-rw: %v", err)
	}
}
