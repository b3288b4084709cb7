package entra_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/entra/entratest"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/sandbox"
)

var signInPermissions = append(entra.Core(), entra.ReadSignIns.Name)

// requests returns the tenant's Graph requests since before, as
// "METHOD path status".
func requests(tenant *sandbox.Tenant, before int) []string {
	var out []string
	for _, r := range tenant.GraphRequests()[before:] {
		out = append(out, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
	}
	return out
}

func TestSignInActivityReadsFifteenUsersARequest(t *testing.T) {
	tenant, c := entratest.Start(t, entratest.Options{Permissions: signInPermissions})
	now := time.Now().UTC().Truncate(time.Second)
	var ids []string
	for i := range 40 {
		u := tenant.AddUser(sandbox.User{DisplayName: fmt.Sprintf("contractor %d", i), Mail: fmt.Sprintf("c%d@partner.example", i), UserType: "Guest", AccountEnabled: true})
		ids = append(ids, u.ID)
	}
	// user 3: an interactive failure after a successful non-interactive
	// sign-in; user 31: one success; the others never signed in.
	mustSignIn(t, tenant, ids[3], sandbox.SignIn{At: now.Add(-48 * time.Hour), Success: true})
	mustSignIn(t, tenant, ids[3], sandbox.SignIn{At: now.Add(-2 * time.Hour), Interactive: true})
	mustSignIn(t, tenant, ids[31], sandbox.SignIn{At: now.Add(-time.Hour), Success: true, Interactive: true})
	gone := "00000000-0000-4000-8000-0000000000aa" // deleted, or never existed
	asked := append(slices.Clone(ids), gone)
	before := len(tenant.GraphRequests())

	got, err := c.SignInActivity(context.Background(), asked)
	if err != nil {
		t.Fatal(err)
	}
	calls := requests(tenant, before)
	if want := slices.Repeat([]string{"GET /v1.0/users 200"}, 3); !slices.Equal(calls, want) {
		t.Errorf("requests = %v, want three (41 ids, 15 a request)", calls)
	}
	if len(got) != len(asked) {
		t.Errorf("%d users answered, want every one of the %d asked", len(got), len(asked))
	}
	want := map[string]engagement.SignInActivity{
		ids[3]:  {LastInteractive: now.Add(-2 * time.Hour), LastNonInteractive: now.Add(-48 * time.Hour), LastSuccessful: now.Add(-48 * time.Hour)},
		ids[31]: {LastInteractive: now.Add(-time.Hour), LastSuccessful: now.Add(-time.Hour)},
		ids[0]:  {},
		gone:    {},
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("activity of %s = %+v, want %+v", id, got[id], w)
		}
	}
}

func mustSignIn(tb testing.TB, tenant *sandbox.Tenant, userID string, s sandbox.SignIn) {
	tb.Helper()
	if _, err := tenant.SignIn(userID, s); err != nil {
		tb.Fatal(err)
	}
}

func TestSignInsSinceATimeEveryPage(t *testing.T) {
	tenant, c := entratest.Start(t, entratest.Options{Permissions: signInPermissions})
	tenant.SetReportsLimit(sandbox.ReportsLimit{Requests: -1})
	ana := tenant.AddUser(sandbox.User{DisplayName: "Ana", Mail: "ana@partner.example", UserType: "Guest", AccountEnabled: true})
	bo := tenant.AddUser(sandbox.User{DisplayName: "Bo", Mail: "bo@partner.example", UserType: "Guest", AccountEnabled: true})
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 2100 { // three pages of Graph's 1,000
		mustSignIn(t, tenant, ana.ID, sandbox.SignIn{At: since.Add(time.Duration(i) * time.Minute), Success: i%7 != 0, Interactive: i%2 == 0, App: "Portal", IP: "198.51.100.9"})
	}
	mustSignIn(t, tenant, ana.ID, sandbox.SignIn{At: since.Add(-time.Minute), Success: true}) // before: left out
	mustSignIn(t, tenant, bo.ID, sandbox.SignIn{At: since.Add(time.Hour), Success: true})     // someone else
	before := len(tenant.GraphRequests())

	got, err := c.SignIns(context.Background(), ana.ID, since)
	if err != nil {
		t.Fatal(err)
	}
	if calls := requests(tenant, before); !slices.Equal(calls, slices.Repeat([]string{"GET /v1.0/auditLogs/signIns 200"}, 3)) {
		t.Errorf("requests = %v, want three pages", calls)
	}
	if len(got) != 2100 {
		t.Fatalf("%d sign-ins, want ana's 2,100 since %s", len(got), since)
	}
	newest := got[0]
	wantNewest := engagement.SignIn{At: since.Add(2099 * time.Minute), Success: true, Interactive: false, App: "Portal", IP: "198.51.100.9"}
	if newest != wantNewest {
		t.Errorf("first = %+v, want the newest %+v", newest, wantNewest)
	}
	if !slices.IsSortedFunc(got, func(a, b engagement.SignIn) int { return b.At.Compare(a.At) }) {
		t.Error("sign-ins are not newest first")
	}
	if oldest := got[len(got)-1]; !oldest.At.Equal(since) || oldest.Success || oldest.FailureReason == "" {
		t.Errorf("last = %+v, want the failed sign-in at %s with its reason", oldest, since)
	}
}

// The reports allow 5 requests per 10 s per app; over it, Graph answers
// 429 with Retry-After, and the adapter waits rather than fail.
func TestSignInsWaitOutTheReportsThrottle(t *testing.T) {
	t.Run("the SDK's retries", func(t *testing.T) {
		tenant, c := entratest.Start(t, entratest.Options{Permissions: signInPermissions})
		tenant.SetReportsLimit(sandbox.ReportsLimit{Requests: 1, Per: 500 * time.Millisecond})
		u := tenant.AddUser(sandbox.User{DisplayName: "Cy", Mail: "cy@partner.example", AccountEnabled: true})
		for i := range 2500 {
			mustSignIn(t, tenant, u.ID, sandbox.SignIn{At: time.Now().Add(-time.Duration(i) * time.Second), Success: true})
		}
		before := len(tenant.GraphRequests())
		got, err := c.SignIns(context.Background(), u.ID, time.Now().Add(-24*time.Hour))
		if err != nil || len(got) != 2500 {
			t.Fatalf("SignIns under the throttle: %d, %v; want 2,500 and no error", len(got), err)
		}
		if calls := requests(tenant, before); !slices.Contains(calls, "GET /v1.0/auditLogs/signIns 429") {
			t.Errorf("requests = %v: none was throttled, so this tests nothing", calls)
		}
	})
	t.Run("past the SDK's retries", func(t *testing.T) {
		tenant, c := entratest.Start(t, entratest.Options{Permissions: signInPermissions, MaxRetries: 1})
		u := tenant.AddUser(sandbox.User{DisplayName: "Di", Mail: "di@partner.example", AccountEnabled: true})
		tenant.Inject(sandbox.Fault{Path: "/auditLogs/signIns", Status: 429, RetryAfter: "0.05", Times: 3})
		before := len(tenant.GraphRequests())
		if _, err := c.SignIns(context.Background(), u.ID, time.Now().Add(-time.Hour)); err != nil {
			t.Fatalf("SignIns after three 429s: %v", err)
		}
		want := []string{"GET /v1.0/auditLogs/signIns 429", "GET /v1.0/auditLogs/signIns 429", "GET /v1.0/auditLogs/signIns 429", "GET /v1.0/auditLogs/signIns 200"}
		if calls := requests(tenant, before); !slices.Equal(calls, want) {
			t.Errorf("requests = %v, want %v", calls, want)
		}
	})
}

func TestSignInsUnavailable(t *testing.T) {
	tests := []struct {
		name    string
		perms   []string
		premium bool
		says    string
	}{
		{"without AuditLog.Read.All", entra.Core(), true, "grant the app the AuditLog.Read.All application permission"},
		{"without Entra ID P1", signInPermissions, false, "no Microsoft Entra ID P1 or P2 licence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant, c := entratest.Start(t, entratest.Options{Permissions: tt.perms})
			tenant.SetPremium(tt.premium)
			u := tenant.AddUser(sandbox.User{DisplayName: "Ed", Mail: "ed@partner.example", AccountEnabled: true})
			_, errActivity := c.SignInActivity(context.Background(), []string{u.ID})
			_, errLog := c.SignIns(context.Background(), u.ID, time.Now().Add(-time.Hour))
			for name, err := range map[string]error{"SignInActivity": errActivity, "SignIns": errLog} {
				if !errors.Is(err, entra.ErrSignInsUnavailable) {
					t.Errorf("%s: %v, want ErrSignInsUnavailable", name, err)
				}
				if fault.CodeOf(err) != fault.Unauthorized || err == nil || !strings.Contains(err.Error(), tt.says) {
					t.Errorf("%s: %v, want an Unauthorized error saying %q", name, err, tt.says)
				}
			}
		})
	}
}

func TestSponsors(t *testing.T) {
	tenant, c := entratest.Start(t, entratest.Options{})
	ctx := context.Background()
	owner := tenant.AddUser(sandbox.User{DisplayName: "Olga", Mail: "olga@contoso.com", AccountEnabled: true})
	noMail := tenant.AddUser(sandbox.User{DisplayName: "Pia", UserPrincipalName: "pia@contoso.onmicrosoft.com", AccountEnabled: true})
	team := tenant.AddGroup(sandbox.Group{DisplayName: "Vendor managers", SecurityEnabled: true})
	g := tenant.AddUser(sandbox.User{DisplayName: "Gus", Mail: "gus@partner.example", UserType: "Guest", AccountEnabled: true})
	if err := tenant.SetSponsors(g.ID, owner.ID, noMail.ID, team.ID); err != nil {
		t.Fatal(err)
	}
	got, err := c.Sponsors(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []entra.Sponsor{
		{ID: owner.ID, DisplayName: "Olga", Mail: "olga@contoso.com"},
		{ID: noMail.ID, DisplayName: "Pia", Mail: "pia@contoso.onmicrosoft.com"},
		{ID: team.ID, Group: true, DisplayName: "Vendor managers"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Sponsors = %+v, want %+v", got, want)
	}
	if none, err := c.Sponsors(ctx, owner.ID); err != nil || len(none) != 0 {
		t.Errorf("Sponsors of a user without any = %v, %v; want none", none, err)
	}
	if _, err := c.Sponsors(ctx, "00000000-0000-4000-8000-0000000000bb"); fault.CodeOf(err) != fault.NotFound {
		t.Errorf("Sponsors of an unknown user: %v, want NotFound", err)
	}
}

// Sponsors go on the invitation, with only the core User.Invite.All.
func TestInviteWithSponsors(t *testing.T) {
	tenant, c := entratest.Start(t, entratest.Options{})
	ctx := context.Background()
	owner := tenant.AddUser(sandbox.User{DisplayName: "Olga", Mail: "olga@contoso.com", AccountEnabled: true})
	u, err := c.Invite(ctx, engagement.Invitation{Email: "hal@agency.example", RedirectURL: "https://myapps.microsoft.com", SponsorIDs: []string{owner.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tenant.User(u.ID); !slices.Equal(got.Sponsors, []string{owner.ID}) {
		t.Errorf("the guest's sponsors = %v, want [%s]", got.Sponsors, owner.ID)
	}
	_, err = c.Invite(ctx, engagement.Invitation{Email: "ivy@agency.example", RedirectURL: "https://myapps.microsoft.com", SponsorIDs: []string{"00000000-0000-4000-8000-0000000000cc"}})
	if fault.CodeOf(err) != fault.Invalid {
		t.Errorf("an unknown sponsor: %v, want Invalid", err)
	}
	before := len(tenant.GraphRequests())
	_, err = c.Invite(ctx, engagement.Invitation{Email: "jo@agency.example", RedirectURL: "https://myapps.microsoft.com", SponsorIDs: slices.Repeat([]string{owner.ID}, 6)})
	if fault.CodeOf(err) != fault.Invalid || len(tenant.GraphRequests()) != before {
		t.Errorf("six sponsors: %v after %d requests, want Invalid before any", err, len(tenant.GraphRequests())-before)
	}
}
