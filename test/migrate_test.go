package test

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/ledger"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/test/postgres"
)

// A one-machine stint moves to PostgreSQL: stint serve on its data
// directory's SQLite ledger applies some events, holds others queued
// (Graph refuses invitations for now) and one dead letter; stint migrate
// refuses while serve runs, copies everything once it is stopped, and
// refuses a second copy into the full database; stint serve on the new
// ledger then applies the queued events, keeps the audit trail that came
// along, and lists the dead letter.
func TestMigrateFromSQLiteToPostgreSQL(t *testing.T) {
	pg := postgres.Start(t, postgres.Options{})
	store := pg.Database(t)
	tenant := serveTenant(t, permissions)
	env, member := tenant.env, tenant.member

	data, addr := t.TempDir(), freeAddr(t)
	serve := startServe(t, data, addr, env...)
	now := time.Now()
	started := func(id, email string) []byte {
		return evt(id, "started", "ENG-"+id, email, now.Add(-time.Minute), map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(24 * time.Hour))})
	}
	postSigned(t, addr, "d-m1", started("m1", "mia@partner.example"))
	waitFor(t, 30*time.Second, "mia is not in the group", func() bool { return member("mia@partner.example") })
	// One invitation refused for good (dead-lettered), then Graph down for
	// invitations: the next two stay queued.
	tenant.Inject(sandbox.Fault{Method: http.MethodPost, Path: "/invitations", Status: http.StatusForbidden, Times: 1})
	postSigned(t, addr, "d-m2", started("m2", "max@partner.example"))
	waitFor(t, 30*time.Second, "max's event is not dead-lettered", func() bool {
		out, _ := stint(t, env, "dlq", "list", "--data", data)
		return strings.Contains(out, "max@partner.example")
	})
	tenant.Inject(sandbox.Fault{Method: http.MethodPost, Path: "/invitations", Status: http.StatusServiceUnavailable, RetryAfter: "8"})
	postSigned(t, addr, "d-m3", started("m3", "meg@partner.example"))
	postSigned(t, addr, "d-m4", started("m4", "moe@partner.example"))

	if out, err := stint(t, env, "migrate", "--data", data, "--to", store); err == nil || !strings.Contains(out, "in use by stint (pid") {
		t.Errorf("stint migrate beside a running serve: %v\n%s\nwant refused, naming the serve", err, out)
	}
	serve.cmd.Process.Signal(syscall.SIGTERM)
	serve.cmd.Wait()
	out, err := stint(t, env, "migrate", "--data", data, "--to", store)
	if err != nil || !strings.Contains(out, "2 queued events and 1 dead letters; the counts agree") {
		t.Fatalf("stint migrate: %v\n%s\nwant the two queued events and the dead letter moved", err, out)
	}
	if out, err := stint(t, env, "migrate", "--data", data, "--to", store); err == nil || !strings.Contains(out, "is not empty") {
		t.Errorf("a second stint migrate into the same database: %v\n%s\nwant refused", err, out)
	}

	tenant.ClearFaults()
	serve = startServe(t, t.TempDir(), addr, append(env, "STINT_STORE="+store)...)
	defer func() { serve.cmd.Process.Signal(syscall.SIGTERM); serve.cmd.Wait() }()
	waitFor(t, time.Minute, "the queued events are not applied on PostgreSQL", func() bool {
		return member("meg@partner.example") && member("moe@partner.example")
	})
	if member("max@partner.example") {
		t.Error("the dead letter was applied without a replay")
	}
	out, err = stint(t, append(env, "STINT_STORE="+store), "dlq", "list", "--data", t.TempDir())
	if err != nil || !strings.Contains(out, "max@partner.example") {
		t.Errorf("stint dlq list on the new ledger: %v\n%s\nwant max's dead letter", err, out)
	}
	l, err := ledger.Open(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	trail, err := l.Audit(context.Background(), engagement.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	applied := map[string]int{}
	for _, a := range trail {
		if a.Action == engagement.EventApplied {
			applied[a.EventID]++
		}
	}
	if applied["m1"] != 1 || applied["m3"] != 1 || applied["m4"] != 1 {
		t.Errorf("applied in the new ledger's trail: %v; want m1 (before the move), m3 and m4 (after) once each", applied)
	}
}

// stint runs the stint command with env and returns its combined output.
func stint(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(build(t, "stint"), args...)
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
