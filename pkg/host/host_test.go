package host_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/sweep"
)

// defaults is the stint command's configuration with nothing set.
func defaults(tb testing.TB) config.Config {
	tb.Helper()
	cfg, err := config.Load(config.Stint, func(string) (string, bool) { return "", false })
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

func open(tb testing.TB, data string, log *slog.Logger) *host.Host {
	tb.Helper()
	h, err := host.Open(context.Background(), host.Options{Config: defaults(tb), Sandbox: true, Data: data, Addr: "127.0.0.1:0", Log: log})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// One process owns a data directory: a second Open is refused, naming the
// holder, and touches nothing of the first (its sandbox CA stays).
func TestOneProcessOwnsADataDirectory(t *testing.T) {
	data := t.TempDir()
	first := open(t, data, nil)
	ca, _ := os.ReadFile(filepath.Join(data, "sandbox-ca.pem"))
	_, err := host.Open(context.Background(), host.Options{Config: defaults(t), Sandbox: true, Data: data, Addr: "127.0.0.1:0"})
	var inUse *host.InUseError
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() || !strings.Contains(err.Error(), "is in use by stint (pid") {
		t.Fatalf("second Open = %v, want it refused naming pid %d", err, os.Getpid())
	}
	if again, _ := os.ReadFile(filepath.Join(data, "sandbox-ca.pem")); !bytes.Equal(again, ca) {
		t.Error("the refused Open rewrote sandbox-ca.pem")
	}
	first.Close()
	second := open(t, data, nil)
	second.Close()
}

// A sweep asked for while serve runs runs inside serve, through the
// control channel, against serve's own sandbox tenant.
func TestSweepThroughTheRunningServe(t *testing.T) {
	data := t.TempDir()
	h := open(t, data, nil)
	defer h.Close()
	ghost := h.Sandbox.AddUser(sandbox.User{Mail: "ghost@old.example", UserType: "Guest", AccountEnabled: true})
	h.Sandbox.AddMember(h.Groups["contractor-access"], ghost.ID)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { stop(); <-done }()
	var sum sweep.Summary
	var err error
	for range 250 { // the control channel opens as Run starts
		if sum, err = host.Sweep(context.Background(), data, sweep.Input{Mode: "reconcile", DryRun: true}); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || sum.Mode != "reconcile" || sum.Flagged != 1 {
		t.Fatalf("Sweep through serve = %+v, %v; want the dry-run reconcile flagging the ghost", sum, err)
	}
	info, err := os.Stat(filepath.Join(data, "control.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("control.json: %v, %v; want mode 0600", info, err)
	}
}

// A dry run of stint import reads serve's tenant through the control
// channel as it would read Entra: a user, nobody (NotFound) or several
// (Conflict) for an address, and the members of an allow-listed group —
// no other group.
func TestTheTenantIsReadThroughTheRunningServe(t *testing.T) {
	data := t.TempDir()
	h, _ := serve(t, host.Options{Data: data})
	ana := h.Sandbox.AddUser(sandbox.User{Mail: "ana@x.example", UserType: "Guest", AccountEnabled: true})
	h.Sandbox.AddMember(h.Groups["contractor-access"], ana.ID)
	h.Sandbox.AddUser(sandbox.User{Mail: "twin@x.example", AccountEnabled: true})
	h.Sandbox.AddUser(sandbox.User{Mail: "twin@x.example", AccountEnabled: true})
	other := h.Sandbox.AddGroup(sandbox.Group{DisplayName: "finance", SecurityEnabled: true})
	dir := host.RemoteDirectory{Data: data}
	var u engagement.User
	var err error
	for range 250 { // the control channel opens as Run starts
		if u, err = dir.FindUser(context.Background(), "ana@x.example"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || u.ID != ana.ID || !u.Guest || !u.Enabled {
		t.Errorf("FindUser(ana) = %+v, %v; want her guest account", u, err)
	}
	if _, err := dir.FindUser(context.Background(), "nobody@x.example"); fault.CodeOf(err) != fault.NotFound {
		t.Errorf("FindUser(nobody) = %v (%s), want not_found", err, fault.CodeOf(err))
	}
	if _, err := dir.FindUser(context.Background(), "twin@x.example"); fault.CodeOf(err) != fault.Conflict {
		t.Errorf("FindUser(twin) = %v (%s), want conflict", err, fault.CodeOf(err))
	}
	var ids []string
	for u, err := range dir.Members(context.Background(), h.Groups["contractor-access"]) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	if len(ids) != 1 || ids[0] != ana.ID {
		t.Errorf("Members(contractor-access) = %v, want [%s]", ids, ana.ID)
	}
	var refused error
	for _, err := range dir.Members(context.Background(), other.ID) {
		refused = err
	}
	if refused == nil || !strings.Contains(refused.Error(), "not in the allow-list") {
		t.Errorf("Members(finance) = %v, want it refused: not allow-listed", refused)
	}
}

// Files holding secrets are private whatever the umask, and serve warns
// about a data directory others can read.
func TestPrivateFilesAndAWarning(t *testing.T) {
	data := t.TempDir()
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := open(t, data, slog.New(slog.NewJSONHandler(&logs, nil)))
	defer h.Close()
	info, err := os.Stat(filepath.Join(data, "webhook-secret"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("webhook-secret: %v, %v; want mode 0600", info, err)
	}
	if !strings.Contains(logs.String(), "chmod 700 "+data) {
		t.Errorf("log = %s; want a warning that the data directory is readable by others", logs.String())
	}
}

// The sandbox is chosen, never fallen into: without it, a configuration
// that names no tenant is refused, naming what is missing; and a data
// directory keeps to the tenant it was first used with.
func TestTheSandboxIsChosen(t *testing.T) {
	data := t.TempDir()
	_, err := host.Open(context.Background(), host.Options{Config: defaults(t), Data: data, Addr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "AZURE_TENANT_ID and STINT_GROUPS not set") || !strings.Contains(err.Error(), "--sandbox") {
		t.Fatalf("Open without a tenant or --sandbox = %v, want it refused, naming what is missing", err)
	}
	h := open(t, data, nil) // --sandbox
	h.Close()
	cfg := defaults(t)
	cfg.Tenant.ID, cfg.Groups = "72f988bf-0000-4000-8000-00000000c0de", map[string]string{"contractor-access": "6f1c2f3e-0000-4000-8000-000000000001"}
	if _, err := host.Open(context.Background(), host.Options{Config: cfg, Data: data, Addr: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "holds the sandbox tenant's ledger") {
		t.Errorf("a real tenant on a sandbox's data directory: %v, want it refused", err)
	}
	if got := host.Chosen(data); got != "sandbox" {
		t.Errorf("Chosen = %q, want sandbox", got)
	}
}

// A scheduled reconcile is skipped while another replica on the ledger
// keeps reconciling (its mark fresher than 90% of a period), and runs once
// the others stop.
func TestAReconcileRunsOncePerPeriodAcrossReplicas(t *testing.T) {
	cfg := defaults(t)
	h, err := host.Open(context.Background(), host.Options{Config: cfg, Sandbox: true, Data: t.TempDir(), Addr: "127.0.0.1:0",
		TickEvery: -1, ReconcileEvery: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// A ghost, so that each reconcile leaves its summary in the audit trail.
	ghost := h.Sandbox.AddUser(sandbox.User{Mail: "ghost@old.example", UserType: "Guest", AccountEnabled: true})
	h.Sandbox.AddMember(h.Groups["contractor-access"], ghost.ID)
	reconciles := func() int {
		trail, err := h.Ledger.Audit(context.Background(), engagement.AuditQuery{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range trail {
			if a.Action == engagement.SweepSummary && a.Actor == "stint:reconcile" {
				n++
			}
		}
		return n
	}
	other := func() { // another replica finishing a reconcile now
		h.Ledger.SetMark(context.Background(), "sweep/reconcile/done", time.Now().UTC().Format(time.RFC3339Nano))
	}
	other()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { stop(); <-done }()
	for range 15 { // 1.5 s: five periods
		time.Sleep(100 * time.Millisecond)
		other()
	}
	if n := reconciles(); n != 0 {
		t.Errorf("%d reconciles while another replica kept reconciling, want none", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for reconciles() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no reconcile 5 s after the other replica stopped")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
