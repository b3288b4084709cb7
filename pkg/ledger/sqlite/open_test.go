package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/ledger/ledgertest"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
)

// openerEnv names the ledger file a helper process opens; openerIDEnv the
// engagement it writes there.
const (
	openerEnv   = "STINT_SQLITE_OPENER"
	openerIDEnv = "STINT_SQLITE_OPENER_ID"
)

// TestHelperProcess is not a test: it is the body of the processes that
// TestProcessesOpeningOneFreshFileAllSucceed starts from this test binary.
// It says "ready", waits for its standard input to close (the start
// signal), then opens the ledger and writes one engagement. It exits 0 on
// success and 1 with the error on standard error otherwise.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(openerEnv)
	if path == "" {
		return
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	if err := openAndWrite(path, os.Getenv(openerIDEnv)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func openAndWrite(path, id string) error {
	ctx := context.Background()
	l, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer l.Close()
	e := ledgertest.Record(id, owner(id), engagement.Active, day(-1), day(30))
	_, _, err = l.Commit(ctx, engagement.Change{Contractor: engagement.Contractor{Key: e.Contractor}, Engagements: []engagement.Engagement{e}})
	return err
}

// owner is the contractor of engagement id in these tests: one each, so
// that writers do not contend for one contractor's version.
func owner(id string) string { return strings.ToLower(id) + "@partner.example" }

// Several OS processes opening one file that does not exist yet (a worker
// and an operator tool started together, or the test suite's Lambda
// workers) all open it and write to it: it is switched to WAL and migrated
// once (a migration run twice fails on its CREATE TABLE). Each round starts
// the processes, waits until every one is parked on its start signal, then
// releases them all at once.
func TestProcessesOpeningOneFreshFileAllSucceed(t *testing.T) {
	const processes, rounds = 8, 30
	if testing.Short() {
		t.Skip("starts 240 processes")
	}
	for round := range rounds {
		path := filepath.Join(t.TempDir(), "stint.db")
		var ids []string
		for i := range processes {
			ids = append(ids, fmt.Sprintf("ENG-%d", i))
		}
		failures := race(t, path, ids)
		if len(failures) > 0 {
			t.Fatalf("round %d: %d of %d processes failed to open a fresh ledger:\n%s",
				round+1, len(failures), processes, strings.Join(failures, "\n"))
		}
		l, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("round %d: open after the race: %v", round+1, err)
		}
		got := 0
		for _, err := range l.Active(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			got++
		}
		l.Close()
		if got != processes {
			t.Fatalf("round %d: %d engagements; want one from each of %d processes", round+1, got, processes)
		}
	}
}

// write puts a record, failing the test on error.
func write(tb testing.TB, l *sqlite.Ledger, id string) {
	tb.Helper()
	ledgertest.Put(tb, l, ledgertest.Record(id, owner(id), engagement.Active, day(-1), day(30)))
}

// opener is one helper process, parked on its start signal.
type opener struct {
	cmd    *exec.Cmd
	start  io.WriteCloser
	stdout *bufio.Reader
	stderr strings.Builder
}

// race starts one helper process per id against path, releases them
// together once all are ready, and returns a line for each that failed.
func race(tb testing.TB, path string, ids []string) []string {
	tb.Helper()
	var procs []*opener
	tb.Cleanup(func() {
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				p.cmd.Process.Kill()
				p.cmd.Wait()
			}
		}
	})
	for _, id := range ids {
		p, err := startOpener(path, id)
		if err != nil {
			tb.Fatal(err)
		}
		procs = append(procs, p)
	}
	for _, p := range procs {
		if line, err := p.stdout.ReadString('\n'); line != "ready\n" {
			p.cmd.Wait()
			tb.Fatalf("helper process did not get ready: %q, %v\n%s", line, err, p.stderr.String())
		}
	}
	for _, p := range procs {
		p.start.Close()
	}
	var failures []string
	for i, p := range procs {
		io.Copy(io.Discard, p.stdout)
		if err := p.cmd.Wait(); err != nil {
			failures = append(failures, fmt.Sprintf("process %d: %v: %s", i, err, strings.TrimSpace(p.stderr.String())))
		}
	}
	return failures
}

func startOpener(path, id string) (*opener, error) {
	p := &opener{cmd: exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")}
	// A race-enabled binary sleeps a second at exit unless told not to.
	race := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	p.cmd.Env = append(os.Environ(), openerEnv+"="+path, openerIDEnv+"="+id, "GORACE="+race)
	p.cmd.Stderr = &p.stderr
	var err error
	if p.start, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.stdout = bufio.NewReader(out)
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start helper process: %w", err)
	}
	return p, nil
}
