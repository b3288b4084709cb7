package entra_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/requestlog"
	"github.com/stintdev/stint/pkg/sandbox"
)

// The adapter's five application permissions.
var corePermissions = entra.Core()

const (
	tenantID = "72f988bf-0000-4000-8000-00000000c0de"
	domain   = "contoso.onmicrosoft.com"
	clientID = "11111111-2222-3333-4444-555555555555"
	secret   = "sandbox-secret-value"
)

var (
	tenant *sandbox.Tenant
	server *sandbox.Server
)

// TestMain serves one sandbox tenant over TLS with its own CA, trusted the
// way an unmodified binary would trust it: through SSL_CERT_FILE. The
// credential comes from the standard AZURE_* variables.
func TestMain(m *testing.M) {
	tenant = sandbox.New(sandbox.Options{TenantID: tenantID, Domain: domain})
	var err error
	server, err = tenant.StartTLS("127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, _ := os.MkdirTemp("", "stint-entra")
	ca := filepath.Join(dir, "ca.pem")
	if err := tenant.WriteCA(ca); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("SSL_CERT_FILE", ca)
	os.Setenv("AZURE_AUTHORITY_HOST", server.URL)
	os.Setenv("AZURE_TENANT_ID", tenantID)
	os.Setenv("AZURE_CLIENT_ID", clientID)
	os.Setenv("AZURE_CLIENT_SECRET", secret)
	os.Setenv("STINT_GRAPH_ENDPOINT", server.URL)
	tenant.AddApp(sandbox.App{ClientID: clientID, Secret: secret, Permissions: corePermissions})
	code := m.Run()
	server.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logBuffer is a concurrency-safe sink for the adapter's JSON log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fromEnv builds the credential from the environment through pkg/config,
// as a binary would.
func fromEnv() (config.Config, azcore.TokenCredential, error) {
	cfg, err := config.Load(config.Stint, os.LookupEnv)
	if err != nil {
		return cfg, nil, err
	}
	cred, err := entra.Credential(cfg.Tenant, nil)
	return cfg, cred, err
}

// newClient builds the adapter from the environment, as a function would.
func newClient(tb testing.TB) (*entra.Client, *logBuffer) {
	tb.Helper()
	cfg, cred, err := fromEnv()
	if err != nil {
		tb.Fatal(err)
	}
	logs := &logBuffer{}
	c, err := entra.New(entra.Config{Endpoint: cfg.GraphEndpoint, Credential: cred, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	// The first token request is not a Graph request: fetch it up front so
	// that request counts below are Graph's alone.
	if _, err := c.Group(context.Background(), warmGroup(tb).ID); err != nil {
		tb.Fatalf("warm-up: %v", err)
	}
	return c, logs
}

var warm struct {
	once  sync.Once
	group sandbox.Group
}

func warmGroup(tb testing.TB) sandbox.Group {
	warm.once.Do(func() { warm.group = tenant.AddGroup(sandbox.Group{DisplayName: "warm-up", SecurityEnabled: true}) })
	return warm.group
}

// graphCalls runs f and returns the Graph requests it sent over the wire.
func graphCalls(tb testing.TB, f func()) []sandbox.Request {
	tb.Helper()
	before := len(tenant.GraphRequests())
	f()
	return tenant.GraphRequests()[before:]
}

func wantCalls(tb testing.TB, got []sandbox.Request, want ...string) {
	tb.Helper()
	var lines []string
	for _, r := range got {
		lines = append(lines, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
	}
	if !slices.Equal(lines, want) {
		tb.Errorf("Graph requests =\n  %s\nwant\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
}

// guest adds a redeemed guest, or returns the one a previous run of the
// test (go test -count) added to the shared tenant.
func guest(tb testing.TB, mail string) sandbox.User {
	tb.Helper()
	if u, ok := tenant.UserByMail(mail); ok {
		return u
	}
	return tenant.AddUser(sandbox.User{DisplayName: mail, Mail: mail, UserType: "Guest", AccountEnabled: true, ExternalUserState: "Accepted"})
}

func group(tb testing.TB, name string) sandbox.Group {
	tb.Helper()
	return tenant.AddGroup(sandbox.Group{DisplayName: name, SecurityEnabled: true})
}

var findUsers struct {
	once                         sync.Once
	byMail, byOther, byUPN, annX sandbox.User
}

func TestFindUser(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	// The shared tenant outlives one run of the test (go test -count):
	// its users are added once.
	findUsers.once.Do(func() {
		findUsers.byMail = guest(t, "ana@partner.example")
		findUsers.byOther = tenant.AddUser(sandbox.User{DisplayName: "Bo", Mail: "bo@corp.example", OtherMails: []string{"bo.private@home.example"}, AccountEnabled: true})
		// A guest whose mail was never set: found by the UPN Entra gave them.
		findUsers.byUPN = tenant.AddUser(sandbox.User{DisplayName: "Cy", UserType: "Guest", UserPrincipalName: "cy_studio.example#EXT#@" + domain, AccountEnabled: true})
		findUsers.annX = guest(t, "ann_x@y.example")
		tenant.AddUser(sandbox.User{DisplayName: "Twin 1", Mail: "twin@dup.example", AccountEnabled: true})
		tenant.AddUser(sandbox.User{DisplayName: "Twin 2", OtherMails: []string{"twin@dup.example"}, AccountEnabled: true})
	})
	byMail, byOther, byUPN, annX := findUsers.byMail, findUsers.byOther, findUsers.byUPN, findUsers.annX
	tests := []struct {
		email  string
		wantID string
		code   fault.Code
	}{
		{"ana@partner.example", byMail.ID, ""},
		{"ANA@Partner.Example", byMail.ID, ""},
		{"bo.private@home.example", byOther.ID, ""},
		{"cy@studio.example", byUPN.ID, ""},
		{"nobody@nowhere.example", "", fault.NotFound},
		{"twin@dup.example", "", fault.Conflict},
		// ann_x@y.example's guest UPN is also what ann@x_y.example would
		// get; her mail says she is someone else.
		{"ann@x_y.example", "", fault.NotFound},
		{"ann_x@y.example", annX.ID, ""},
		{"o'neil@quote.example", "", fault.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			var u engagement.User
			var err error
			calls := graphCalls(t, func() { u, err = c.FindUser(ctx, tt.email) })
			if got := fault.CodeOf(err); got != tt.code {
				t.Fatalf("FindUser error = %v, want code %q", err, tt.code)
			}
			if u.ID != tt.wantID {
				t.Errorf("FindUser = %q, want %q", u.ID, tt.wantID)
			}
			wantCalls(t, calls, "GET /v1.0/users 200")
		})
	}
	t.Run("reads the properties Graph returns only when selected", func(t *testing.T) {
		u, err := c.FindUser(ctx, "ana@partner.example")
		if err != nil {
			t.Fatal(err)
		}
		if !u.Guest || !u.Enabled || u.ExternalState != "Accepted" || u.CreatedAt.IsZero() || !strings.Contains(u.UserPrincipalName, "#EXT#") {
			t.Errorf("FindUser = %+v, want an enabled, accepted guest with a creation time and an #EXT# UPN", u)
		}
	})
}

func TestInvite(t *testing.T) {
	c, logs := newClient(t)
	ctx, reqLog := requestlog.New(context.Background())
	var u engagement.User
	var err error
	calls := graphCalls(t, func() {
		u, err = c.Invite(ctx, engagement.Invitation{Email: "dee@agency.example", DisplayName: "Dee", RedirectURL: "https://myapps.microsoft.com", SendMessage: false})
	})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, calls, "POST /v1.0/invitations 201")
	created, ok := tenant.User(u.ID)
	if !ok || created.UserType != "Guest" || created.ExternalUserState != "PendingAcceptance" || !strings.EqualFold(created.Mail, "dee@agency.example") {
		t.Fatalf("the tenant holds %+v (found %v), want a pending guest with the invited mail", created, ok)
	}
	invs := tenant.Invitations()
	if last := invs[len(invs)-1]; last.SendInvitationMessage || last.RedirectURL != "https://myapps.microsoft.com" {
		t.Errorf("invitation = %+v, want no email sent and the redirect passed on", last)
	}
	if ids := reqLog.IDs(); len(ids) != 1 || ids[0] != calls[0].RequestID {
		t.Errorf("request log = %v, want the invitation's request-id %q", ids, calls[0].RequestID)
	}
	if !strings.Contains(logs.String(), calls[0].RequestID) {
		t.Errorf("the write's log line lacks its request-id %s:\n%s", calls[0].RequestID, logs)
	}
}

func TestMembership(t *testing.T) {
	c, logs := newClient(t)
	ctx := context.Background()
	g := group(t, "contractor-access")
	u := guest(t, "eve@partner.example")

	calls := graphCalls(t, func() {
		if err := c.AddMember(ctx, g.ID, u.ID); err != nil {
			t.Fatalf("AddMember: %v", err)
		}
	})
	wantCalls(t, calls, "POST /v1.0/groups/"+g.ID+"/members/$ref 204")
	if !slices.Contains(tenant.Members(g.ID), u.ID) {
		t.Fatal("not a member after AddMember")
	}

	calls = graphCalls(t, func() {
		if err := c.AddMember(ctx, g.ID, u.ID); err != nil {
			t.Errorf("AddMember of a member = %v, want success (idempotent)", err)
		}
	})
	wantCalls(t, calls, "POST /v1.0/groups/"+g.ID+"/members/$ref 400")

	calls = graphCalls(t, func() {
		if err := c.RemoveMember(ctx, g.ID, u.ID); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
	})
	wantCalls(t, calls, "DELETE /v1.0/groups/"+g.ID+"/members/"+u.ID+"/$ref 204")
	if slices.Contains(tenant.Members(g.ID), u.ID) {
		t.Fatal("still a member after RemoveMember")
	}
	if _, ok := tenant.User(u.ID); !ok {
		t.Fatal("RemoveMember deleted the user")
	}

	calls = graphCalls(t, func() {
		if err := c.RemoveMember(ctx, g.ID, u.ID); err != nil {
			t.Errorf("RemoveMember of a non-member = %v, want success (idempotent)", err)
		}
	})
	wantCalls(t, calls, "DELETE /v1.0/groups/"+g.ID+"/members/"+u.ID+"/$ref 404")

	if err := c.AddMember(ctx, g.ID, "00000000-0000-0000-0000-000000000404"); !fault.Is(err, fault.NotFound) {
		t.Errorf("AddMember of an unknown user = %v, want not found", err)
	}
	if strings.Contains(logs.String(), "eyJ") {
		t.Error("a token reached the log")
	}
}

func TestBlockAndRevoke(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	g := guest(t, "fay@partner.example")
	member := tenant.AddUser(sandbox.User{DisplayName: "Gus", Mail: "gus@corp.example", AccountEnabled: true})

	calls := graphCalls(t, func() {
		if err := c.SetAccountEnabled(ctx, g.ID, false); err != nil {
			t.Fatal(err)
		}
	})
	wantCalls(t, calls, "PATCH /v1.0/users/"+g.ID+" 204")
	if u, _ := tenant.User(g.ID); u.AccountEnabled {
		t.Error("still enabled after SetAccountEnabled(false)")
	}
	if err := c.SetAccountEnabled(ctx, g.ID, true); err != nil {
		t.Fatal(err)
	}
	if u, _ := tenant.User(g.ID); !u.AccountEnabled {
		t.Error("still disabled after SetAccountEnabled(true)")
	}

	t.Run("RemoveAndRead removes the groups and reads the account in one request", func(t *testing.T) {
		g1, g2 := group(t, "rr-1"), group(t, "rr-2")
		for _, gid := range []string{g1.ID, g2.ID} {
			if err := tenant.AddMember(gid, g.ID); err != nil {
				t.Fatal(err)
			}
		}
		var u engagement.User
		var err error
		calls := graphCalls(t, func() { u, err = c.RemoveAndRead(ctx, g.ID, []string{g1.ID, g2.ID}) })
		if err != nil || u.ID != g.ID || !u.Guest || !u.Enabled {
			t.Fatalf("RemoveAndRead = %+v, %v; want the enabled guest", u, err)
		}
		wantCalls(t, calls, "POST /v1.0/$batch 200")
		if len(tenant.Members(g1.ID))+len(tenant.Members(g2.ID)) != 0 {
			t.Error("still a member after RemoveAndRead")
		}
		// Not a member any more is success; the account reads as it is now.
		if err := tenant.SetUserType(g.ID, "Member"); err != nil {
			t.Fatal(err)
		}
		tenant.SetAccountEnabled(g.ID, false)
		if u, err = c.RemoveAndRead(ctx, g.ID, []string{g1.ID}); err != nil || u.Guest || u.Enabled {
			t.Errorf("RemoveAndRead of a converted, disabled account = %+v, %v; want a disabled member", u, err)
		}
		tenant.SetUserType(g.ID, "Guest")
		tenant.SetAccountEnabled(g.ID, true)
		if _, err = c.RemoveAndRead(ctx, "00000000-0000-0000-0000-000000000404", []string{g1.ID}); !fault.Is(err, fault.NotFound) {
			t.Errorf("RemoveAndRead of an unknown user = %v, want not found", err)
		}
		tenant.Inject(sandbox.Fault{Method: "DELETE", Path: "/groups/" + g2.ID, Status: 403, InBatch: true})
		defer tenant.ClearFaults()
		tenant.AddMember(g2.ID, g.ID)
		_, err = c.RemoveAndRead(ctx, g.ID, []string{g1.ID, g2.ID})
		var bulk *engagement.BulkError
		if !errors.As(err, &bulk) || len(bulk.Failed) != 1 || !fault.Is(bulk.Failed[g2.ID], fault.Unauthorized) {
			t.Errorf("RemoveAndRead with one removal refused = %v, want that group's failure alone", err)
		}
	})

	calls = graphCalls(t, func() {
		if err := c.RevokeSessions(ctx, engagement.User{ID: member.ID}); err != nil {
			t.Fatal(err)
		}
	})
	wantCalls(t, calls, "POST /v1.0/users/"+member.ID+"/revokeSignInSessions 200")
	if u, _ := tenant.User(member.ID); u.SessionsRevokedAt.IsZero() {
		t.Error("the member's sessions were not revoked")
	}
	calls = graphCalls(t, func() {
		if err := c.RevokeSessions(ctx, engagement.User{ID: g.ID, Guest: true}); err != nil {
			t.Fatal(err)
		}
	})
	wantCalls(t, calls)
}

func TestGroupAndRoleAssignableRefusal(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	plain := group(t, "contractor-access")
	roles := tenant.AddGroup(sandbox.Group{DisplayName: "Helpdesk admins", SecurityEnabled: true, IsAssignableToRole: true})
	got, err := c.Group(ctx, roles.ID)
	if err != nil || !got.RoleAssignable || got.DisplayName != "Helpdesk admins" {
		t.Fatalf("Group = %+v, %v; want the role-assignable group", got, err)
	}
	err = engagement.CheckGroups(ctx, c, map[string]string{"contractor-access": plain.ID, "admins": roles.ID})
	if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), "role-assignable") {
		t.Errorf("CheckGroups = %v, want the role-assignable group refused", err)
	}
	if err := engagement.CheckGroups(ctx, c, map[string]string{"contractor-access": plain.ID}); err != nil {
		t.Errorf("CheckGroups of a plain group = %v", err)
	}
	if _, err := c.Group(ctx, "00000000-0000-0000-0000-000000000404"); !fault.Is(err, fault.NotFound) {
		t.Errorf("Group(unknown) = %v, want not found", err)
	}
}

func TestMembersPagesAt999(t *testing.T) {
	c, _ := newClient(t)
	g := group(t, "big")
	want := map[string]bool{}
	for i := range 2500 {
		u := tenant.AddUser(sandbox.User{DisplayName: fmt.Sprint("m", i), Mail: fmt.Sprintf("m%d@bulk.example", i), UserType: "Guest", AccountEnabled: i%7 != 0, ExternalUserState: "Accepted"})
		if err := tenant.AddMember(g.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		want[u.ID] = true
	}
	got := map[string]bool{}
	disabled := 0
	calls := graphCalls(t, func() {
		for u, err := range c.Members(context.Background(), g.ID) {
			if err != nil {
				t.Fatal(err)
			}
			if got[u.ID] {
				t.Fatalf("user %s yielded twice", u.ID)
			}
			got[u.ID] = true
			if !u.Enabled {
				disabled++
			}
		}
	})
	if len(got) != len(want) {
		t.Errorf("Members yielded %d users, want %d", len(got), len(want))
	}
	if disabled != (2500+6)/7 {
		t.Errorf("%d disabled members, want %d: accountEnabled must be selected", disabled, (2500+6)/7)
	}
	if len(calls) != 3 {
		t.Errorf("%d Graph requests for 2,500 members, want 3 pages of at most 999", len(calls))
	}
	for _, r := range calls {
		if !strings.Contains(r.Path, "/members/") || r.Status != 200 {
			t.Errorf("page request %s %s %d", r.Method, r.Path, r.Status)
		}
	}
}

func TestBulkMembershipWithBatch(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	g := group(t, "bulk")
	var ids []string
	for i := range 45 {
		ids = append(ids, guest(t, fmt.Sprintf("b%d@bulk.example", i)).ID)
	}
	for _, id := range ids {
		if err := tenant.AddMember(g.ID, id); err != nil {
			t.Fatal(err)
		}
	}
	tenant.Inject(sandbox.Fault{Method: "DELETE", Path: "/groups/" + g.ID + "/members", Status: 429, RetryAfter: "0.5", Times: 3, InBatch: true})
	defer tenant.ClearFaults()
	// One user no member (not a member is success).
	calls := graphCalls(t, func() {
		if err := c.RemoveMembers(ctx, g.ID, append(ids, "00000000-0000-0000-0000-00000000dead")); err != nil {
			t.Fatalf("RemoveMembers: %v", err)
		}
	})
	if got := len(tenant.Members(g.ID)); got != 0 {
		t.Errorf("%d members after RemoveMembers, want 0", got)
	}
	// 46 removals: 3 batches, plus one more for the throttled items.
	if len(calls) != 4 {
		t.Errorf("%d $batch requests, want 4 (3 batches of at most 20, one resend of the throttled items)", len(calls))
	}
}

func TestTransientFaultsAreRetried(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	guest(t, "hal@partner.example")
	tests := []struct {
		name     string
		fault    sandbox.Fault
		minDelay time.Duration
	}{
		{"429 with a fractional Retry-After, then success", sandbox.Fault{Path: "/users", Status: 429, RetryAfter: "1.2", Times: 1}, 1200 * time.Millisecond},
		{"503 with Retry-After, then success", sandbox.Fault{Path: "/users", Status: 503, RetryAfter: "1", Times: 1}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant.Inject(tt.fault)
			defer tenant.ClearFaults()
			start := time.Now()
			var err error
			calls := graphCalls(t, func() { _, err = c.FindUser(ctx, "hal@partner.example") })
			if err != nil {
				t.Fatalf("FindUser = %v, want success after the retry", err)
			}
			wantCalls(t, calls, fmt.Sprintf("GET /v1.0/users %d", tt.fault.Status), "GET /v1.0/users 200")
			if waited := time.Since(start); waited < tt.minDelay {
				t.Errorf("retried after %v, before the Retry-After of %v", waited, tt.minDelay)
			}
		})
	}
	t.Run("writes succeed after a 429 and a 503", func(t *testing.T) {
		for i := range 2 {
			g, u := group(t, fmt.Sprint("retry-", i)), guest(t, fmt.Sprintf("retry%d@partner.example", i))
			tenant.Inject(sandbox.Fault{Method: "POST", Path: "/groups/", Status: 429, RetryAfter: "0.01", Times: 1})
			tenant.Inject(sandbox.Fault{Method: "POST", Path: "/groups/", Status: 503, RetryAfter: "0.01", Times: 1})
			if err := c.AddMember(ctx, g.ID, u.ID); err != nil {
				t.Fatalf("AddMember after a 429 and a 503 = %v, want success", err)
			}
			if !slices.Contains(tenant.Members(g.ID), u.ID) {
				t.Fatal("not a member after the retried AddMember")
			}
		}
	})
	t.Run("a wait past the deadline is handed back as transient, with the wait", func(t *testing.T) {
		tenant.Inject(sandbox.Fault{Path: "/users", Status: 429, RetryAfter: "30", Times: 1})
		defer tenant.ClearFaults()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := c.FindUser(ctx, "hal@partner.example")
		if !fault.Is(err, fault.Transient) || fault.RetryAfter(err) != 30*time.Second {
			t.Errorf("FindUser = %v (retry after %v), want transient with 30s", err, fault.RetryAfter(err))
		}
	})
	t.Run("a dropped connection is transient", func(t *testing.T) {
		tenant.Inject(sandbox.Fault{Path: "/groups/", Drop: true, Times: 1})
		defer tenant.ClearFaults()
		err := c.AddMember(ctx, group(t, "drop").ID, "x")
		if !fault.Is(err, fault.Transient) {
			t.Errorf("AddMember over a dropped connection = %v, want transient", err)
		}
	})
}

func TestMissingPermissionIsNamed(t *testing.T) {
	const limited = "99999999-2222-3333-4444-555555555555"
	tenant.AddApp(sandbox.App{ClientID: limited, Secret: secret, Permissions: slices.DeleteFunc(slices.Clone(corePermissions), func(p string) bool { return p == "User.Invite.All" })})
	t.Setenv("AZURE_CLIENT_ID", limited)
	c, _ := newClient(t)
	_, err := c.Invite(context.Background(), engagement.Invitation{Email: "ivy@partner.example", RedirectURL: "https://myapps.microsoft.com"})
	if !fault.Is(err, fault.Unauthorized) || !strings.Contains(err.Error(), "User.Invite.All") || !strings.Contains(err.Error(), "403") {
		t.Errorf("Invite without User.Invite.All = %v, want unauthorized naming the permission", err)
	}
	if _, ok := tenant.UserByMail("ivy@partner.example"); ok {
		t.Error("the refused invitation created a user")
	}
}

func TestWrongSecretIsUnauthorized(t *testing.T) {
	t.Setenv("AZURE_CLIENT_SECRET", "not-the-secret")
	_, cred, err := fromEnv()
	if err != nil {
		t.Fatal(err)
	}
	c, err := entra.New(entra.Config{Endpoint: server.URL, Credential: cred})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FindUser(context.Background(), "x@y.example")
	if !fault.Is(err, fault.Unauthorized) {
		t.Fatalf("FindUser with a wrong secret = %v, want unauthorized", err)
	}
	if strings.Contains(err.Error(), "not-the-secret") {
		t.Error("the error repeats the secret")
	}
}

func TestConfigurationErrors(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"endpoint with a path", "STINT_GRAPH_ENDPOINT", "https://graph.microsoft.com/v1.0", "want the Graph root"},
		{"plain http off loopback", "STINT_GRAPH_ENDPOINT", "http://graph.example", "must be https"},
		{"authority over http", "AZURE_AUTHORITY_HOST", "http://login.example", "must be an https URL"},
		{"secret without a tenant", "AZURE_TENANT_ID", "", "AZURE_TENANT_ID is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tt.key, tt.value)
			_, _, err := fromEnv()
			if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want invalid, saying %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Error("the error repeats the secret")
			}
		})
	}
}

// The certificate path of the standard variables: a client assertion signed
// with the app's key, checked by the token service against its certificate.
func TestCertificateCredentialFromEnv(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "stint-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	const certApp = "77777777-2222-3333-4444-555555555555"
	tenant.AddApp(sandbox.App{ClientID: certApp, Certificate: cert, Permissions: corePermissions})
	pemFile := filepath.Join(t.TempDir(), "app.pem")
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	pemBytes := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	if err := os.WriteFile(pemFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_CLIENT_ID", certApp)
	t.Setenv("AZURE_CLIENT_SECRET", "")
	t.Setenv("AZURE_CLIENT_CERTIFICATE_PATH", pemFile)
	c, _ := newClient(t)
	if _, err := c.FindUser(context.Background(), "nobody@cert.example"); !fault.Is(err, fault.NotFound) {
		t.Errorf("FindUser with a certificate credential = %v, want a plain not found", err)
	}
}
