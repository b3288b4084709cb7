package test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/queue/servicebus"
	"github.com/stintdev/stint/pkg/sandbox"
	sbtest "github.com/stintdev/stint/test/servicebus"
)

// startRole starts stint serve --only role with env: against the tenant
// env names (AZURE_TENANT_ID), else against its own sandbox.
func startRole(t *testing.T, role, data, addr string, env []string) *serveProc {
	t.Helper()
	args, want := []string{"serve", "--sandbox", "--only", role, "--data", data, "--addr", addr, "--lease", "5s"}, "stint: serving against the sandbox tenant"
	if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "AZURE_TENANT_ID=") }) {
		args, want = slices.Delete(args, 1, 2), "stint: serving against tenant "
	}
	cmd := exec.Command(build(t, "stint"), args...)
	cmd.Env = append(cleanEnv(), env...)
	p := &serveProc{cmd: cmd, out: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("stint serve --only %s did not start:\n%s", role, p.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// The webhook and the worker as two processes on a Service Bus queue: a
// signed event in, a member in the sandbox out; another event reusing its
// id lands in the dead-letter queue with stint's code and reason; both
// roles answer /healthz and /readyz.
func TestServeRolesOverServiceBus(t *testing.T) {
	srv := sbtest.Start(t, sbtest.Options{Queues: []sbtest.QueueOptions{{Name: "events", RequiresSession: true, LockDuration: 5 * time.Second}}})
	env := []string{
		"STINT_QUEUE_URL=servicebus://" + srv.Namespace() + "/events",
		"STINT_SERVICEBUS_CONNECTION=" + srv.ConnectionString(),
		"STINT_WEBHOOK_SECRET=" + webhookSecret,
	}
	hookAddr, workerAddr, workerData := freeAddr(t), freeAddr(t), t.TempDir()
	startRole(t, "webhook", t.TempDir(), hookAddr, env)
	startRole(t, "worker", workerData, workerAddr, env)

	for _, addr := range []string{hookAddr, workerAddr} {
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s%s = %d %s", addr, path, resp.StatusCode, body)
			}
		}
	}
	if resp, err := http.Post("http://"+workerAddr+"/events", "application/json", strings.NewReader("{}")); err == nil {
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the worker-only role answers /events with %d, want 404", resp.StatusCode)
		}
		resp.Body.Close()
	}

	now := time.Now()
	post := func(id string, body []byte) { postSigned(t, hookAddr, "d-"+id, body) }
	post("sb-1", evt("sb-1", "started", "ENG-SB1", "ana@partner.example", now.Add(-time.Minute), map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(24 * time.Hour))}))
	// Another event under the same source and id: the service keeps both
	// (their message ids differ), the worker refuses the second.
	post("sb-1b", evt("sb-1", "started", "ENG-SB1", "ana@partner.example", now.Add(-time.Minute), map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(48 * time.Hour))}))

	deadline := time.Now().Add(60 * time.Second)
	for {
		ten := sandbox.New(sandbox.Options{})
		ten.LoadFile(filepath.Join(workerData, "sandbox.json")) // none yet, or a moment behind: look again
		if u, ok := ten.UserByMail("ana@partner.example"); ok && slices.Contains(ten.Members(host.SandboxGroups["contractor-access"]), u.ID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ana is not in contractor-access in the worker's sandbox after 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	client, err := servicebus.Connect(servicebus.Address{Queue: "events"}, srv.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(context.Background())
	q, err := servicebus.New(client, "events")
	if err != nil {
		t.Fatal(err)
	}
	var dls []servicebus.DeadLetter
	for len(dls) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		dls, _ = q.DeadLetters(context.Background(), 10)
	}
	if len(dls) != 1 || dls[0].Code != "conflict" || !strings.Contains(dls[0].Reason, "sb-1") || dls[0].Contractor != "ana@partner.example" {
		t.Fatalf("dead letters %s, want the reused id, with code conflict and the reason", fmt.Sprint(dls))
	}

	// stint dlq reads the Service Bus dead-letter queue; a replay puts the
	// event back (refused again: the id is still reused), a drop removes it.
	dlq := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(build(t, "stint"), append([]string{"dlq"}, args...)...)
		cmd.Env = append(cleanEnv(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("stint dlq %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := dlq("list"); !strings.Contains(out, "ana@partner.example") || !strings.Contains(out, fmt.Sprint(dls[0].Seq)) {
		t.Errorf("stint dlq list:\n%s", out)
	}
	dlq("replay", fmt.Sprint(dls[0].Seq))
	var again []servicebus.DeadLetter
	for len(again) == 0 && time.Now().Before(deadline.Add(30*time.Second)) {
		time.Sleep(100 * time.Millisecond)
		again, _ = q.DeadLetters(context.Background(), 10)
	}
	if len(again) != 1 || again[0].Seq == dls[0].Seq || again[0].Code != "conflict" {
		t.Fatalf("after the replay: dead letters %s, want the event handled again and refused again", fmt.Sprint(again))
	}
	dlq("drop", fmt.Sprint(again[0].Seq))
	if left, _ := q.DeadLetters(context.Background(), 10); len(left) != 0 {
		t.Errorf("dead letters after the drop: %s", fmt.Sprint(left))
	}
}
