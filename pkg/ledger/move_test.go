package ledger_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger"
	"github.com/stintdev/stint/pkg/ledger/ledgertest"
	pgledger "github.com/stintdev/stint/pkg/ledger/postgres"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/test/postgres"
)

func openSQLite(t *testing.T) *sqlite.Ledger {
	t.Helper()
	l, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "stint.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// fill writes n contractors' worth of records into l: engagements (one
// ended), handled events, audit lines and marks.
func fill(t *testing.T, l engagement.Ledger, n int) {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for i := range n {
		key := fmt.Sprintf("c%03d@partner.example", i)
		state := engagement.Active
		if i%5 == 0 {
			state = engagement.Ended
		}
		ledgertest.Put(t, l, ledgertest.Record(fmt.Sprintf("ENG-%03d", i), key, state, start, start.AddDate(0, 1, i)))
		c, err := l.Contractor(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.Commit(ctx, engagement.Change{Contractor: c,
			Seen:  []engagement.SeenEvent{{Key: "hr/test " + key, Digest: "d", Engagement: fmt.Sprintf("ENG-%03d", i), Outcome: engagement.Outcome("applied"), At: start}},
			Audit: []engagement.AuditEntry{{Contractor: key, Action: engagement.EventApplied, Actor: "hr/test", At: start.Add(time.Duration(i) * time.Second)}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.SetMark(ctx, "policy/require-mfa", "id-1"); err != nil {
		t.Fatal(err)
	}
}

// everything is what a ledger holds, for comparing two.
func everything(t *testing.T, l ledger.Portable) map[string]any {
	t.Helper()
	ctx := context.Background()
	out := map[string]any{}
	for c, err := range l.Contractors(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		out["contractor "+c.Key] = c
	}
	for e, err := range l.Engagements(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		out["engagement "+e.ID] = e
	}
	for s, err := range l.SeenEvents(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		out["seen "+s.Key] = s
	}
	trail, err := l.Audit(ctx, engagement.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	out["audit"] = trail
	marks, err := l.Marks(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	out["marks"] = marks
	return out
}

// testCopy copies a filled SQLite ledger into the empty ledger to: every
// record, handled event, audit line (in order) and mark arrives as it was,
// versions and times included; a second copy into the now full ledger is
// refused.
func testCopy(t *testing.T, to ledger.Portable) {
	from := openSQLite(t)
	fill(t, from, 450) // more than two batches
	counts, err := ledger.Copy(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ledger.Counts{Contractors: 450, Engagements: 450, Seen: 450, Audit: 450, Marks: 1}); counts != want {
		t.Errorf("copied %+v, want %+v", counts, want)
	}
	if a, b := everything(t, from), everything(t, to); !reflect.DeepEqual(a, b) {
		for k, v := range a {
			if !reflect.DeepEqual(v, b[k]) {
				t.Errorf("%s: copied as %+v, want %+v", k, b[k], v)
				break
			}
		}
		t.Errorf("the copy differs (%d items against %d)", len(b), len(a))
	}
	if _, err := ledger.Copy(context.Background(), from, to); !fault.Is(err, fault.Conflict) {
		t.Errorf("a copy into a ledger that is not empty: %v, want refused", err)
	}
}

func TestCopySQLiteToSQLite(t *testing.T) { testCopy(t, openSQLite(t)) }

func TestCopySQLiteToPostgreSQL(t *testing.T) {
	pg := postgres.Start(t, postgres.Options{})
	to, err := pgledger.Open(context.Background(), pg.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer to.Close()
	testCopy(t, to)
}
