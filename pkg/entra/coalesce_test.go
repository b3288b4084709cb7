package entra

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/requestlog"
	"github.com/stintdev/stint/pkg/sandbox"
)

// held is a transport that holds the requests hold picks until the test
// lets them go: a request "in flight" for as long as a test needs.
type held struct {
	next    http.RoundTripper
	mu      sync.Mutex
	hold    func(*http.Request) bool
	arrived chan *http.Request
	release chan struct{}
}

func (h *held) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	hold := h.hold != nil && h.hold(req)
	if hold {
		h.hold = nil // one request at a time
	}
	h.mu.Unlock()
	if hold {
		h.arrived <- req
		select {
		case <-h.release:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return h.next.RoundTrip(req)
}

// holdNext holds the next request that matches method and a path suffix.
func (h *held) holdNext(method, suffix string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hold = func(r *http.Request) bool { return r.Method == method && strings.HasSuffix(r.URL.Path, suffix) }
}

// fixture is a sandbox tenant and a client whose Graph requests go
// through a held transport, with the coalescers' joins counted.
type fixture struct {
	ten    *sandbox.Tenant
	appID  string
	c      *Client
	wire   *held
	joined chan string
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	const tenantID, clientID, secret = "72f988bf-0000-4000-8000-0000000c0a1e", "11111111-2222-3333-4444-0000000c0a1e", "coalesce-secret"
	ten := sandbox.New(sandbox.Options{TenantID: tenantID})
	srv, err := ten.StartTLS("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	ten.AddApp(sandbox.App{ClientID: clientID, Secret: secret, Permissions: Core()})
	tlsWire := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ten.CAPool()}}
	cred, err := azidentity.NewClientSecretCredential(tenantID, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL}, Transport: &http.Client{Transport: tlsWire}},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{ten: ten, appID: clientID, wire: &held{next: tlsWire, arrived: make(chan *http.Request, 1), release: make(chan struct{})}, joined: make(chan string, 64)}
	f.c, err = New(Config{Endpoint: srv.URL, Credential: cred, Transport: f.wire, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	for _, co := range []*coalescer{f.c.adds, f.c.removes} {
		co.joined = func(gid string) { f.joined <- gid }
	}
	if _, err := f.c.Group(context.Background(), f.group(tb).ID); err != nil { // the token, fetched once
		tb.Fatal(err)
	}
	ten.ResetJournal()
	return f
}

func (f *fixture) group(tb testing.TB) sandbox.Group {
	tb.Helper()
	return f.ten.AddGroup(sandbox.Group{DisplayName: "contractor-access", SecurityEnabled: true})
}

func (f *fixture) users(tb testing.TB, n int) []string {
	tb.Helper()
	var ids []string
	for i := range n {
		ids = append(ids, f.ten.AddUser(sandbox.User{DisplayName: fmt.Sprint("u", i), UserType: "Guest", AccountEnabled: true}).ID)
	}
	return ids
}

// calls are the Graph requests answered since the journal was reset, as
// "METHOD path status" ($batch items left out).
func (f *fixture) calls() []string {
	var out []string
	for _, r := range f.ten.GraphRequests() {
		out = append(out, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
	}
	return out
}

// waitJoined waits until n callers have joined a gathering request.
func (f *fixture) waitJoined(tb testing.TB, n int) {
	tb.Helper()
	for range n {
		select {
		case <-f.joined:
		case <-time.After(10 * time.Second):
			tb.Fatal("callers did not join the gathering request")
		}
	}
}

// waitArrived waits for the held request.
func (f *fixture) waitArrived(tb testing.TB) *http.Request {
	tb.Helper()
	select {
	case r := <-f.wire.arrived:
		return r
	case <-time.After(10 * time.Second):
		tb.Fatal("the request was not sent")
		return nil
	}
}

// burst has first's change held in flight, then runs change for each of
// rest concurrently, lets the first go once they have all joined, and
// returns every caller's error, first's at 0.
func (f *fixture) burst(tb testing.TB, method, suffix string, change func(ctx context.Context, uid string) error, first string, rest ...string) []error {
	tb.Helper()
	f.wire.holdNext(method, suffix)
	errs := make([]error, 1+len(rest))
	var wg sync.WaitGroup
	for i, uid := range append([]string{first}, rest...) {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = change(context.Background(), uid) }()
		if i == 0 {
			f.waitArrived(tb)
		}
	}
	f.waitJoined(tb, len(rest))
	f.wire.release <- struct{}{}
	wg.Wait()
	return errs
}

func wantCalls(tb testing.TB, got []string, want ...string) {
	tb.Helper()
	if !slices.Equal(got, want) {
		tb.Errorf("Graph requests =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func wantMembers(tb testing.TB, ten *sandbox.Tenant, gid string, want ...string) {
	tb.Helper()
	got := ten.Members(gid)
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		tb.Errorf("members = %v, want %v", got, want)
	}
}

func TestConcurrentAddsBecomeOnePatch(t *testing.T) {
	f := newFixture(t)
	g := f.group(t)
	u := f.users(t, 6)
	logs := make([]*requestlog.Log, len(u))
	add := func(ctx context.Context, uid string) error {
		ctx, logs[slices.Index(u, uid)] = requestlog.New(ctx)
		return f.c.AddMember(ctx, g.ID, uid)
	}
	for i, err := range f.burst(t, http.MethodPost, "/members/$ref", add, u[0], u[1:]...) {
		if err != nil {
			t.Errorf("AddMember(%s) = %v", u[i], err)
		}
	}
	// The first went alone, at once; the five who came while it was on the
	// wire went together, in one write.
	wantCalls(t, f.calls(),
		"POST /v1.0/groups/"+g.ID+"/members/$ref 204",
		"PATCH /v1.0/groups/"+g.ID+" 204")
	wantMembers(t, f.ten, g.ID, u...)
	patch := f.ten.GraphRequests()[1].RequestID
	for i, l := range logs[1:] {
		if ids := l.IDs(); !slices.Equal(ids, []string{patch}) {
			t.Errorf("request log of %s = %v, want the PATCH's request-id %s", u[i+1], ids, patch)
		}
	}
}

func TestGatheredAddFallsBackPerMember(t *testing.T) {
	const unknown = "00000000-0000-0000-0000-000000000404"
	f := newFixture(t)
	g := f.group(t)
	u := f.users(t, 4)
	add := func(ctx context.Context, uid string) error { return f.c.AddMember(ctx, g.ID, uid) }

	t.Run("one already a member: every caller succeeds", func(t *testing.T) {
		if err := f.ten.AddMember(g.ID, u[2]); err != nil {
			t.Fatal(err)
		}
		f.ten.ResetJournal()
		for i, err := range f.burst(t, http.MethodPost, "/members/$ref", add, u[0], u[1:]...) {
			if err != nil {
				t.Errorf("AddMember(%s) = %v, want success (already a member is success)", u[i], err)
			}
		}
		got := f.calls()
		wantCalls(t, got[:2], "POST /v1.0/groups/"+g.ID+"/members/$ref 204", "PATCH /v1.0/groups/"+g.ID+" 400")
		alone := slices.Sorted(slices.Values(got[2:]))
		wantCalls(t, alone,
			"POST /v1.0/groups/"+g.ID+"/members/$ref 204",
			"POST /v1.0/groups/"+g.ID+"/members/$ref 204",
			"POST /v1.0/groups/"+g.ID+"/members/$ref 400")
		wantMembers(t, f.ten, g.ID, u...)
	})

	t.Run("one not found: only its caller fails", func(t *testing.T) {
		v := f.users(t, 3)
		f.ten.ResetJournal()
		errs := f.burst(t, http.MethodPost, "/members/$ref", add, v[0], v[1], unknown, v[2])
		for i, uid := range []string{v[0], v[1], unknown, v[2]} {
			if uid == unknown {
				if !fault.Is(errs[i], fault.NotFound) {
					t.Errorf("AddMember(unknown) = %v, want not found", errs[i])
				}
			} else if errs[i] != nil {
				t.Errorf("AddMember(%s) = %v, want success", uid, errs[i])
			}
		}
		if got := f.calls(); len(got) < 2 || got[1] != "PATCH /v1.0/groups/"+g.ID+" 404" {
			t.Errorf("Graph requests = %v, want the PATCH refused 404, then each alone", got)
		}
		wantMembers(t, f.ten, g.ID, append(u, v...)...)
	})
}

// A lone caller's add goes at once, as the POST it always was: it waits
// for no window and joins nothing.
func TestLoneAddIsSentAtOnce(t *testing.T) {
	f := newFixture(t)
	g := f.group(t)
	u := f.users(t, 1)
	f.wire.holdNext(http.MethodPost, "/members/$ref")
	done := make(chan error, 1)
	go func() { done <- f.c.AddMember(context.Background(), g.ID, u[0]) }()
	f.waitArrived(t)
	f.wire.release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(f.joined); n != 0 {
		t.Errorf("%d callers joined a gathering request, want none", n)
	}
	wantCalls(t, f.calls(), "POST /v1.0/groups/"+g.ID+"/members/$ref 204")
}

func TestGatheredAddAndCancellation(t *testing.T) {
	f := newFixture(t)
	g := f.group(t)
	u := f.users(t, 6)

	t.Run("a caller that leaves before the request goes is taken out of it", func(t *testing.T) {
		f.wire.holdNext(http.MethodPost, "/members/$ref")
		first := make(chan error, 1)
		go func() { first <- f.c.AddMember(context.Background(), g.ID, u[0]) }()
		f.waitArrived(t)
		stays := make(chan error, 1)
		go func() { stays <- f.c.AddMember(context.Background(), g.ID, u[1]) }()
		ctx, cancel := context.WithCancel(context.Background())
		leaves := make(chan error, 1)
		go func() { leaves <- f.c.AddMember(ctx, g.ID, u[2]) }()
		f.waitJoined(t, 2)
		cancel()
		if err := <-leaves; !fault.Is(err, fault.Transient) {
			t.Errorf("AddMember with its context cancelled = %v, want a transient error", err)
		}
		f.wire.release <- struct{}{}
		if err := errorsOf(<-first, <-stays); err != nil {
			t.Fatal(err)
		}
		wantCalls(t, f.calls(),
			"POST /v1.0/groups/"+g.ID+"/members/$ref 204",
			"POST /v1.0/groups/"+g.ID+"/members/$ref 204")
		wantMembers(t, f.ten, g.ID, u[0], u[1])
	})

	t.Run("a gathered request ends with the first of its callers' contexts", func(t *testing.T) {
		f.ten.ResetJournal()
		f.wire.holdNext(http.MethodPost, "/members/$ref")
		first := make(chan error, 1)
		go func() { first <- f.c.AddMember(context.Background(), g.ID, u[3]) }()
		f.waitArrived(t)
		stays := make(chan error, 1)
		go func() { stays <- f.c.AddMember(context.Background(), g.ID, u[4]) }()
		ctx, cancel := context.WithCancel(context.Background())
		leaves := make(chan error, 1)
		go func() { leaves <- f.c.AddMember(ctx, g.ID, u[5]) }()
		f.waitJoined(t, 2)
		f.wire.holdNext(http.MethodPatch, "/groups/"+g.ID) // the gathered PATCH, held in flight
		f.wire.release <- struct{}{}
		f.waitArrived(t)
		// The settle of u[5] loses its claim while the PATCH is on the
		// wire: the PATCH must not reach Entra after that.
		cancel()
		select {
		case err := <-stays:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			f.wire.release <- struct{}{}
			t.Fatal("the gathered PATCH went on after one of its callers' contexts ended")
		}
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		if err := <-leaves; !fault.Is(err, fault.Transient) {
			t.Errorf("AddMember with its context cancelled = %v, want a transient error", err)
		}
		wantCalls(t, f.calls(),
			"POST /v1.0/groups/"+g.ID+"/members/$ref 204",
			"POST /v1.0/groups/"+g.ID+"/members/$ref 204")
		wantMembers(t, f.ten, g.ID, u[0], u[1], u[3], u[4])
	})
}

func TestConcurrentRemovalsBecomeOneBatch(t *testing.T) {
	f := newFixture(t)
	g := f.group(t)
	u := f.users(t, 5)
	for _, uid := range u[:4] { // u[4] is not a member: removing it is success
		if err := f.ten.AddMember(g.ID, uid); err != nil {
			t.Fatal(err)
		}
	}
	remove := func(ctx context.Context, uid string) error { return f.c.RemoveMember(ctx, g.ID, uid) }
	for i, err := range f.burst(t, http.MethodDelete, "/$ref", remove, u[0], u[1:]...) {
		if err != nil {
			t.Errorf("RemoveMember(%s) = %v", u[i], err)
		}
	}
	wantCalls(t, f.calls(),
		"DELETE /v1.0/groups/"+g.ID+"/members/"+u[0]+"/$ref 204",
		"POST /v1.0/$batch 200")
	wantMembers(t, f.ten, g.ID)
}

// A gathered request that Graph refuses as a whole for a reason that is
// not about its members — unavailable, its wait longer than the callers
// have — is every caller's answer: nobody's change is then made alone, so
// a failing Graph gets one request, not one per member.
func TestAGatheredRequestFailingWholeIsEveryonesAnswer(t *testing.T) {
	f := newFixture(t)
	g := f.group(t)
	within := func(change func(context.Context, string) error) func(context.Context, string) error {
		return func(ctx context.Context, uid string) error {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second) // shorter than the Retry-After: no retry
			defer cancel()
			return change(ctx, uid)
		}
	}
	check := func(t *testing.T, errs []error, want ...string) {
		t.Helper()
		if errs[0] != nil {
			t.Errorf("the first caller's own request = %v, want success", errs[0])
		}
		for i, err := range errs[1:] {
			if !fault.Is(err, fault.Transient) {
				t.Errorf("gathered caller %d = %v, want the request's transient failure", i+1, err)
			}
		}
		wantCalls(t, f.calls(), want...)
	}

	t.Run("adds", func(t *testing.T) {
		u := f.users(t, 4)
		f.ten.Inject(sandbox.Fault{Method: http.MethodPatch, Path: "/groups/" + g.ID, Status: http.StatusServiceUnavailable, RetryAfter: "60", Times: 1})
		defer f.ten.ClearFaults()
		f.ten.ResetJournal()
		add := within(func(ctx context.Context, uid string) error { return f.c.AddMember(ctx, g.ID, uid) })
		check(t, f.burst(t, http.MethodPost, "/members/$ref", add, u[0], u[1:]...),
			"POST /v1.0/groups/"+g.ID+"/members/$ref 204",
			"PATCH /v1.0/groups/"+g.ID+" 503")
		wantMembers(t, f.ten, g.ID, u[0])
	})

	t.Run("removals", func(t *testing.T) {
		u := f.users(t, 4)
		for _, uid := range u {
			if err := f.ten.AddMember(g.ID, uid); err != nil {
				t.Fatal(err)
			}
		}
		f.ten.Inject(sandbox.Fault{Method: http.MethodPost, Path: "/$batch", Status: http.StatusServiceUnavailable, RetryAfter: "60", Times: 1})
		defer f.ten.ClearFaults()
		f.ten.ResetJournal()
		remove := within(func(ctx context.Context, uid string) error { return f.c.RemoveMember(ctx, g.ID, uid) })
		check(t, f.burst(t, http.MethodDelete, "/$ref", remove, u[0], u[1:]...),
			"DELETE /v1.0/groups/"+g.ID+"/members/"+u[0]+"/$ref 204",
			"POST /v1.0/$batch 503")
	})
}

func errorsOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// A gathering request that reaches 20 members goes at once, though
// another is in flight; the 21st caller waits for the next.
func TestGatheredAddGoesAtTwenty(t *testing.T) {
	f := newFixture(t)
	g := f.group(t)
	u := f.users(t, 22)
	f.wire.holdNext(http.MethodPost, "/members/$ref")
	var wg sync.WaitGroup
	errs := make([]error, len(u))
	add := func(i int) {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f.c.AddMember(context.Background(), g.ID, u[i]) }()
	}
	add(0)
	f.waitArrived(t)
	f.wire.holdNext(http.MethodPatch, "/groups/"+g.ID)
	for i := 1; i <= 20; i++ {
		add(i)
	}
	f.waitJoined(t, 20)
	patch := f.waitArrived(t) // sent while the first POST is still held
	add(21)
	f.waitJoined(t, 1)
	f.wire.release <- struct{}{} // whichever is held first: the PATCH or the POST
	f.wire.release <- struct{}{}
	wg.Wait()
	if err := errorsOf(errs...); err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	if b, err := patch.GetBody(); err == nil {
		_, _ = io.Copy(&body, b)
	}
	if n := strings.Count(body.String(), "/directoryObjects/"); n != 20 {
		t.Errorf("the PATCH binds %d members, want 20: %s", n, body.String())
	}
	got := f.calls()
	slices.Sort(got[:2]) // the PATCH and the first POST were in flight together
	wantCalls(t, got,
		"PATCH /v1.0/groups/"+g.ID+" 204",
		"POST /v1.0/groups/"+g.ID+"/members/$ref 204",
		"POST /v1.0/groups/"+g.ID+"/members/$ref 204")
	wantMembers(t, f.ten, g.ID, u...)
}
