package test

import (
	"bytes"
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

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/queue/servicebus"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/webhook"
	sbtest "github.com/stintdev/stint/test/servicebus"
)

// sbTenant is a Service Bus deployment of stint against a tenant the test
// serves.
type sbTenant struct {
	*servedTenant
	sb *sbtest.Server
}

// newSBTenant starts the tenant, with perms granted to stint's app, and a
// session queue whose locks last lock.
func newSBTenant(t *testing.T, perms []string, lock time.Duration) *sbTenant {
	t.Helper()
	w := &sbTenant{servedTenant: serveTenant(t, perms)}
	w.sb = sbtest.Start(t, sbtest.Options{Queues: []sbtest.QueueOptions{{Name: "events", RequiresSession: true, LockDuration: lock}}})
	w.env = append(w.env, "STINT_QUEUE_URL=servicebus://"+w.sb.Namespace()+"/events", "STINT_SERVICEBUS_CONNECTION="+w.sb.ConnectionString())
	return w
}

// deadLetters reads the queue's dead letters with stint's own client.
func (w *sbTenant) deadLetters(t *testing.T) []servicebus.DeadLetter {
	t.Helper()
	client, err := servicebus.Connect(servicebus.Address{Queue: "events"}, w.sb.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(context.Background())
	q, err := servicebus.New(client, "events")
	if err != nil {
		t.Fatal(err)
	}
	dls, err := q.DeadLetters(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	return dls
}

// postSigned posts a signed event to a webhook and wants it accepted.
func postSigned(t *testing.T, addr, delivery string, body []byte) {
	t.Helper()
	h, err := webhook.Sign(webhookSecret, delivery, time.Now(), body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/events", bytes.NewReader(body))
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s = %d %s", delivery, resp.StatusCode, answer)
	}
}

// waitFor polls cond until it holds, failing the test with what after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// trail is the worker's audit trail, read from its ledger.
func trail(t *testing.T, data string) []engagement.AuditEntry {
	t.Helper()
	l, err := sqlite.Open(context.Background(), filepath.Join(data, "stint.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	entries, err := l.Audit(context.Background(), engagement.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// A Graph outage under a Service Bus worker: the contractor's first event
// fails past the adapter's own retries, the worker abandons it after the
// wait Graph asked for, Service Bus delivers it again, and it applies once
// Graph is back. The contractor's second event, queued behind it in the
// same session, waits and applies after it, in order; nothing is
// dead-lettered.
func TestServiceBusOutageIsAbandonedAndAppliedInOrder(t *testing.T) {
	w := newSBTenant(t, permissions, 5*time.Second)
	// Invitations fail for longer than one delivery's retries (the adapter
	// retries within the message's handling time only), then Graph is back.
	w.Inject(sandbox.Fault{Method: http.MethodPost, Path: "/invitations", Status: http.StatusServiceUnavailable, RetryAfter: "1", Times: 12})
	hookAddr, workerData := freeAddr(t), t.TempDir()
	startRole(t, "webhook", t.TempDir(), hookAddr, w.env)
	worker := startRole(t, "worker", workerData, freeAddr(t), w.env)

	now := time.Now()
	postSigned(t, hookAddr, "d-out-1", evt("out-1", "started", "ENG-OUT", "dan@partner.example", now.Add(-2*time.Minute),
		map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(24 * time.Hour))}))
	postSigned(t, hookAddr, "d-out-2", evt("out-2", "extended", "ENG-OUT", "dan@partner.example", now.Add(-time.Minute),
		map[string]any{"endsAt": ts(now.Add(48 * time.Hour))}))

	waitFor(t, time.Minute, "dan is not in the group", func() bool { return w.member("dan@partner.example") })
	out := worker.out.String()
	if !strings.Contains(out, "message is abandoned after the wait") {
		t.Errorf("the worker did not abandon the first delivery:\n%s", tail(out))
	}
	var failed int
	for _, r := range w.GraphRequests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/invitations") && r.Status == http.StatusServiceUnavailable {
			failed++
		}
	}
	if failed != 12 {
		t.Errorf("%d invitations answered 503, want the 12 injected", failed)
	}
	if n := len(w.Invitations()); n != 1 {
		t.Errorf("%d invitations, want one", n)
	}

	var applied []string
	waitFor(t, 30*time.Second, "the extension was not applied", func() bool {
		applied = applied[:0]
		for _, a := range trail(t, workerData) {
			if a.Action == engagement.EventApplied || a.Action == engagement.EventAppliedOutOfOrder || a.Action == engagement.EventStale {
				applied = append(applied, a.EventID+" "+string(a.Action))
			}
		}
		return len(applied) == 2
	})
	if want := []string{"out-1 event.applied", "out-2 event.applied"}; !slices.Equal(applied, want) {
		t.Errorf("audit trail %q, want %q: the extension applied after the start, in order", applied, want)
	}
	if dls := w.deadLetters(t); len(dls) != 0 {
		t.Errorf("dead letters %v, want none", dls)
	}
}

// A Service Bus worker killed in the middle of a message loses nothing:
// the session lock expires, the message comes back to the next worker, and
// it finishes the work. A message Graph refused for a missing permission
// waits in the dead-letter queue with its code and reason; once an
// administrator grants the permission, `stint dlq replay` applies it.
func TestServiceBusWorkerKilledOrRefusedLosesNothing(t *testing.T) {
	noInvite := slices.DeleteFunc(slices.Clone(permissions), func(p string) bool { return p == "User.Invite.All" })
	if len(noInvite) == len(permissions) {
		t.Fatalf("User.Invite.All is not among the core permissions %v", permissions)
	}
	w := newSBTenant(t, noInvite, 3*time.Second)
	// Eve already has an account: her start needs no invitation. The group
	// addition hangs, long past the session lock, so that the worker is
	// killed while it waits.
	w.AddUser(sandbox.User{DisplayName: "Eve", Mail: "eve@partner.example", UserType: "Guest", AccountEnabled: true})
	w.Inject(sandbox.Fault{Method: http.MethodPost, Path: "/groups/", Latency: 20 * time.Second, Times: 1})
	hookAddr, workerData, workerAddr := freeAddr(t), t.TempDir(), freeAddr(t)
	startRole(t, "webhook", t.TempDir(), hookAddr, w.env)
	worker := startRole(t, "worker", workerData, workerAddr, w.env)

	now := time.Now()
	// Pia is new: inviting her needs the permission the app lacks.
	postSigned(t, hookAddr, "d-pia", evt("pia-1", "started", "ENG-PIA", "pia@partner.example", now.Add(-time.Minute),
		map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(24 * time.Hour))}))
	var dls []servicebus.DeadLetter
	waitFor(t, 30*time.Second, "pia's event is not in the dead-letter queue", func() bool { dls = w.deadLetters(t); return len(dls) == 1 })
	if dls[0].Code != "unauthorized" || !strings.Contains(dls[0].Reason, "403") || dls[0].Contractor != "pia@partner.example" {
		t.Errorf("dead letter %+v, want code unauthorized and Graph's refusal as the reason", dls[0])
	}

	postSigned(t, hookAddr, "d-eve", evt("eve-1", "started", "ENG-EVE", "eve@partner.example", now.Add(-time.Minute),
		map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(24 * time.Hour))}))
	// Kill the worker once it has looked Eve up: its next request is the
	// group addition that hangs.
	waitFor(t, 30*time.Second, "the worker did not look Eve up", func() bool {
		return slices.ContainsFunc(w.GraphRequests(), func(r sandbox.Request) bool {
			return r.Method == http.MethodGet && (strings.Contains(r.Query, "eve%40partner.example") || strings.Contains(r.Query, "eve@partner.example"))
		})
	})
	time.Sleep(500 * time.Millisecond)
	if err := worker.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	worker.cmd.Wait()
	// (Graph may still finish the addition the dead worker asked for, as
	// the real service does; the worker never heard the answer.)
	if slices.ContainsFunc(trail(t, workerData), func(a engagement.AuditEntry) bool { return a.EventID == "eve-1" }) {
		t.Fatal("eve's event was settled before the worker was killed: the test did not kill it mid-message")
	}

	// The administrator grants the permission; the worker comes back (its
	// new token carries the new role) and picks up Eve's message once the
	// dead worker's session lock has expired.
	w.SetPermissions(clientID, permissions...)
	worker = startRole(t, "worker", workerData, workerAddr, w.env)
	defer func() {
		if t.Failed() {
			t.Logf("the second worker:\n%s", tail(worker.out.String()))
		}
	}()
	waitFor(t, time.Minute, "eve's event is not applied after the restart", func() bool {
		return slices.ContainsFunc(trail(t, workerData), func(a engagement.AuditEntry) bool { return a.EventID == "eve-1" && a.Action == engagement.EventApplied })
	})
	if !w.member("eve@partner.example") {
		t.Error("eve is not in the group after the restart")
	}

	cmd := exec.Command(build(t, "stint"), "dlq", "replay", fmt.Sprint(dls[0].Seq))
	cmd.Env = append(cleanEnv(), w.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stint dlq replay: %v\n%s", err, out)
	}
	waitFor(t, time.Minute, "pia is not in the group after the replay", func() bool { return w.member("pia@partner.example") })
	if left := w.deadLetters(t); len(left) != 0 {
		t.Errorf("dead letters after the replay: %v", left)
	}

	count := map[string]int{}
	for _, a := range trail(t, workerData) {
		count[a.Contractor+" "+string(a.Action)]++
	}
	for _, email := range []string{"eve@partner.example", "pia@partner.example"} {
		if n := count[email+" "+string(engagement.EventApplied)]; n != 1 {
			t.Errorf("%s: applied %d times in the audit trail, want once", email, n)
		}
		if n := count[email+" "+string(engagement.GroupAdded)] + count[email+" "+string(engagement.GroupFound)]; n != 1 {
			t.Errorf("%s: %d added-or-found entries, want one", email, n)
		}
	}
	if n := len(w.Members(w.group)); n != 2 {
		t.Errorf("%d members, want eve and pia", n)
	}
}
