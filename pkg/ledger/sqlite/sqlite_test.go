package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger/ledgertest"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
)

func openTemp(t testing.TB) *sqlite.Ledger {
	t.Helper()
	l, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "stint.db"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestConformance(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) engagement.Ledger { return openTemp(t) })
}

func TestReopenKeepsRecordsAndSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stint.db")
	l, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ledgertest.Put(t, l, ledgertest.Record("ENG-1", "ana@partner.example", engagement.Active, day(-1), day(30)))
	l.Close()
	l, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer l.Close()
	if got, err := l.Engagement(ctx, "ENG-1"); err != nil || got.Version != 1 {
		t.Errorf("after reopen: %+v, %v; want ENG-1 at version 1", got, err)
	}
}

func TestRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stint.db")
	l, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	_, err = sqlite.Open(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "schema version 99 is newer than this stint knows") {
		t.Errorf("Open of a newer schema: error = %v, want a refusal naming the version", err)
	}
}

func TestAuditTrailIsAppendOnlyInTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stint.db")
	l, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Append(ctx, engagement.AuditEntry{Contractor: "ana@partner.example", Action: engagement.EventApplied}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, stmt := range []string{"UPDATE audit SET record = '{}'", "DELETE FROM audit"} {
		if _, err := raw.Exec(stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error = %v, want the append-only refusal", stmt, err)
		}
	}
}

// Two OS processes update one record in one file; with optimistic
// concurrency and retries on conflict, no update is lost.
func TestTwoProcessesShareOneFile(t *testing.T) {
	if path := os.Getenv("STINT_SQLITE_CHILD"); path != "" {
		bump(t, path, "child")
		return
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stint.db")
	l, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ledgertest.Put(t, l, ledgertest.Record("ENG-1", "ana@partner.example", engagement.Active, day(-1), day(30)))
	child := exec.Command(os.Args[0], "-test.run=^TestTwoProcessesShareOneFile$", "-test.count=1")
	child.Env = append(os.Environ(), "STINT_SQLITE_CHILD="+path)
	var out strings.Builder
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	bump(t, path, "parent")
	if err := child.Wait(); err != nil {
		t.Fatalf("child process: %v\n%s", err, out.String())
	}
	got, err := l.Contractor(ctx, "ana@partner.example")
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 2*bumps; len(got.Granted) != 2*bumps || got.Version != int64(want) {
		t.Errorf("after both processes: %d keys at version %d, want %d at version %d", len(got.Granted), got.Version, 2*bumps, want)
	}
}

const bumps = 100

// bump appends bumps keys to the contractor, re-reading and retrying on
// conflict.
func bump(t *testing.T, path, who string) {
	ctx := context.Background()
	l, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < bumps; {
		c, err := l.Contractor(ctx, "ana@partner.example")
		if err != nil {
			t.Fatal(err)
		}
		c.Granted = append(c.Granted, fmt.Sprintf("%s-%d", who, i))
		_, _, err = l.Commit(ctx, engagement.Change{Contractor: c})
		switch {
		case err == nil:
			i++
		case !fault.Is(err, fault.Conflict):
			t.Fatalf("%s: %v", who, err)
		}
	}
}

func day(n int) time.Time { return time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC).AddDate(0, 0, n) }
