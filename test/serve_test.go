package test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/queue/embedded"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/webhook"
)

// serveProc is one `stint serve` process.
type serveProc struct {
	cmd *exec.Cmd
	out *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startServe starts stint serve on data and addr; extra holds environment
// variables (against the sandbox when there are none) and flags ("--…").
func startServe(tb testing.TB, data, addr string, extra ...string) *serveProc {
	tb.Helper()
	args := []string{"serve", "--data", data, "--addr", addr, "--lease", "5s"}
	var env []string
	for _, e := range extra {
		if strings.HasPrefix(e, "--") {
			args = append(args, e)
		} else {
			env = append(env, e)
		}
	}
	want := "stint: serving against tenant "
	if len(env) == 0 {
		args, want = append(args, "--sandbox"), "stint: serving against the sandbox tenant"
	}
	cmd := exec.Command(build(tb, "stint"), args...)
	cmd.Env = append(cleanEnv(), env...)
	p := &serveProc{cmd: cmd, out: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.out.String(), want) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			tb.Fatalf("stint serve did not start:\n%s", p.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// Killing stint serve with SIGKILL in the middle of a stream of 1,000
// events and starting it again ends with all 1,000 applied exactly once. The
// sender behaves as an HR system does: it sends again whatever was not
// answered 202.
func TestServeSurvivesSIGKILL(t *testing.T) {
	data := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	serve := startServe(t, data, addr)
	secretBytes, err := os.ReadFile(filepath.Join(data, "webhook-secret"))
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(string(secretBytes))

	const contractors = 500 // a start and an extension each: 1,000 events
	now := time.Now()
	bodies := startsAndExtensions("k", contractors, now, func(int) time.Time { return now.Add(48 * time.Hour) })
	accepted := sendAll(secret, bodies, func() string { return addr })
	for n := 0; n < 400; n++ {
		<-accepted
	}
	if err := serve.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	serve.cmd.Wait()
	serve = startServe(t, data, addr)
	for range accepted {
	}
	ctx := context.Background()
	ledger, err := sqlite.Open(ctx, filepath.Join(data, "stint.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ledger.Close()
	queue, err := embedded.Open(ctx, ledger.DB(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n, err := queue.Len(ctx)
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still queued after 2 minutes\n%s", n, tail(serve.out.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	serve.cmd.Process.Signal(syscall.SIGTERM)
	if err := serve.cmd.Wait(); err != nil {
		t.Errorf("stint serve after SIGTERM: %v\n%s", err, tail(serve.out.String()))
	}

	if dead, _ := queue.DeadLetters(ctx); len(dead) != 0 {
		t.Errorf("%d events dead-lettered, first: %+v", len(dead), dead[0])
	}
	applied := map[string]int{}
	type line struct {
		contractor string
		action     engagement.Action
	}
	directory := map[line]int{}
	trail, _ := ledger.Audit(ctx, engagement.AuditQuery{})
	for _, a := range trail {
		switch a.Action {
		case engagement.EventApplied, engagement.EventAppliedOutOfOrder, engagement.EventStale:
			applied[a.EventID]++
		case engagement.UserInvited, engagement.UserFound, engagement.GroupAdded, engagement.GroupFound:
			directory[line{a.Contractor, a.Action}]++
		}
	}
	tenant := sandbox.New(sandbox.Options{})
	if err := tenant.LoadFile(filepath.Join(data, "sandbox.json")); err != nil {
		t.Fatal(err)
	}
	invited := map[string]int{}
	for _, inv := range tenant.Invitations() {
		invited[strings.ToLower(inv.InvitedUserEmailAddress)]++
	}
	members := map[string]bool{}
	for _, id := range tenant.Members("5a11d0c0-5717-4e5d-8000-0000000000c1") {
		members[id] = true
	}
	for i := range contractors {
		email, eng := fmt.Sprintf("k%03d@vendor.example", i), fmt.Sprintf("ENG-K%03d", i)
		rec, err := ledger.Engagement(ctx, eng)
		if err != nil || !rec.EndsAt.Equal(now.Add(48*time.Hour).Truncate(time.Second)) {
			t.Errorf("%s: %+v, %v; want the extended end", eng, rec, err)
			continue
		}
		for _, id := range []string{fmt.Sprintf("k-s-%03d", i), fmt.Sprintf("k-x-%03d", i)} {
			if _, err := ledger.Seen(ctx, "hr/e2e "+id); err != nil || applied[id] != 1 {
				t.Errorf("event %s: seen %v, applied %d times in the trail; want handled and applied once", id, err, applied[id])
			}
		}
		// A settle killed between its Entra writes and its commit leaves them
		// to the take-over, which records them as found.
		n := directory[line{email, engagement.UserInvited}] + directory[line{email, engagement.UserFound}]
		m := directory[line{email, engagement.GroupAdded}] + directory[line{email, engagement.GroupFound}]
		if n != 1 || m != 1 {
			t.Errorf("%s: %d invited-or-found and %d added-or-found entries, want one each", email, n, m)
		}
		u, ok := tenant.UserByMail(email)
		if !ok || invited[email] != 1 || !members[u.ID] {
			t.Errorf("%s: in tenant %v, invited %d times, member %v; want invited once and a member", email, ok, invited[email], members[u.ID])
		}
	}
}

// startsAndExtensions is a start and an extension for each of n
// contractors <prefix>NNN@vendor.example (engagement ENG-<PREFIX>NNN, event
// ids <prefix>-s-NNN and <prefix>-x-NNN), the extension moving the end to
// end(i).
func startsAndExtensions(prefix string, n int, now time.Time, end func(i int) time.Time) [][]byte {
	var bodies [][]byte
	for i := range n {
		email, eng := fmt.Sprintf("%s%03d@vendor.example", prefix, i), fmt.Sprintf("ENG-%s%03d", strings.ToUpper(prefix), i)
		bodies = append(bodies,
			evt(fmt.Sprintf("%s-s-%03d", prefix, i), "started", eng, email, now.Add(-2*time.Minute), map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(24 * time.Hour))}),
			evt(fmt.Sprintf("%s-x-%03d", prefix, i), "extended", eng, email, now.Add(-time.Minute), map[string]any{"endsAt": ts(end(i))}))
	}
	return bodies
}

// sendAll posts each body in turn, signed with secret, to the address pick
// gives, again (perhaps elsewhere) until it is answered 202, as an HR
// system does; the index of each accepted body comes on the channel,
// closed after the last.
func sendAll(secret string, bodies [][]byte, pick func() string) <-chan int {
	accepted := make(chan int, len(bodies))
	go func() {
		defer close(accepted)
		for i, b := range bodies {
			for {
				h, _ := webhook.Sign(secret, fmt.Sprint("d-", i), time.Now(), b)
				req, _ := http.NewRequest(http.MethodPost, "http://"+pick()+"/events", bytes.NewReader(b))
				req.Header = h
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusAccepted {
						break
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			accepted <- i
		}
	}()
	return accepted
}

// With AZURE_TENANT_ID set, stint serve works against that tenant — here a
// sandbox served by the test, reached like a real one through the AZURE_*
// variables, SSL_CERT_FILE and STINT_GRAPH_ENDPOINT.
func TestServeAgainstAConfiguredTenant(t *testing.T) {
	tenant := serveTenant(t, permissions)
	dir := t.TempDir()
	addr := freeAddr(t)
	serve := startServe(t, filepath.Join(dir, "data"), addr, tenant.env...)
	defer func() { serve.cmd.Process.Signal(syscall.SIGTERM); serve.cmd.Wait() }()
	if !strings.Contains(serve.out.String(), "against tenant "+tenantID) {
		t.Errorf("first line: %s", serve.out)
	}
	now := time.Now()
	body := evt("real-1", "started", "ENG-R", "rae@partner.example", now, map[string]any{"endsAt": ts(now.Add(time.Hour))})
	h, _ := webhook.Sign(webhookSecret, "d-real", now, body)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/events", bytes.NewReader(body))
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("post: %v %v", err, resp)
	}
	resp.Body.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if u, ok := tenant.UserByMail("rae@partner.example"); ok && slices.Equal(tenant.Members(tenant.group), []string{u.ID}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event did not reach the tenant\n%s", tail(serve.out.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "sandbox.json")); !os.IsNotExist(err) {
		t.Error("stint serve started its own sandbox despite AZURE_TENANT_ID")
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// One process owns a data directory: a second stint serve on it is
// refused, naming the holder's pid, and leaves the first one's sandbox CA
// alone; a sweep asked for beside it runs inside it.
func TestSecondServeOnOneDataDirectoryIsRefused(t *testing.T) {
	data := t.TempDir()
	first := startServe(t, data, freeAddr(t))
	defer func() { first.cmd.Process.Signal(syscall.SIGTERM); first.cmd.Wait() }()
	ca, _ := os.ReadFile(filepath.Join(data, "sandbox-ca.pem"))
	second := exec.Command(build(t, "stint"), "serve", "--sandbox", "--data", data, "--addr", freeAddr(t))
	second.Env = cleanEnv()
	out, err := second.CombinedOutput()
	want := fmt.Sprintf("is in use by stint (pid %d)", first.cmd.Process.Pid)
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("second serve: %v\n%s\nwant it refused with %q", err, out, want)
	}
	if again, _ := os.ReadFile(filepath.Join(data, "sandbox-ca.pem")); !bytes.Equal(again, ca) {
		t.Error("the refused serve rewrote sandbox-ca.pem")
	}
	sweep := exec.Command(build(t, "stint"), "sweep", "tick", "--data", data, "--json")
	sweep.Env = cleanEnv()
	if out, err := sweep.CombinedOutput(); err != nil || !strings.Contains(string(out), `"mode": "tick"`) {
		t.Errorf("stint sweep tick beside serve: %v\n%s\nwant the tick run by serve", err, out)
	}
}

// SIGTERM stops stint serve within the webhook's shutdown grace even while
// a client trickles its body in.
func TestServeStopsPromptlyDespiteASlowClient(t *testing.T) {
	addr := freeAddr(t)
	serve := startServe(t, t.TempDir(), addr)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	serve.cmd.Process.Signal(syscall.SIGTERM)
	serve.cmd.Wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stint serve took %v to stop after SIGTERM, want about its 2 s grace", took)
	}
}

// cleanEnv is the test's environment without stint's and Azure's settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AZURE_") && !strings.HasPrefix(kv, "STINT_") {
			env = append(env, kv)
		}
	}
	return env
}

// stint serve with no tenant configured and without --sandbox refuses to
// start, naming what is missing: a production deployment missing one
// variable must not run against a fake tenant.
func TestServeWithoutATenantIsRefused(t *testing.T) {
	cmd := exec.Command(build(t, "stint"), "serve", "--data", t.TempDir(), "--addr", freeAddr(t))
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "AZURE_TENANT_ID and STINT_GROUPS not set") || !strings.Contains(string(out), "--sandbox") {
		t.Errorf("stint serve without a tenant: %v\n%s\nwant exit 1 naming the missing variables and --sandbox", err, out)
	}
	if strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Errorf("the refusal takes %d lines, want one:\n%s", strings.Count(string(out), "\n"), out)
	}
}
