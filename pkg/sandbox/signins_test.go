package sandbox

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// activity returns the signInActivity of a user answer, or nil when absent.
func activity(tb testing.TB, r resp) map[string]any {
	tb.Helper()
	a, present := r.body["signInActivity"]
	if !present {
		return nil
	}
	m, ok := a.(map[string]any)
	if !ok {
		tb.Fatalf("signInActivity = %v, want an object", a)
	}
	return m
}

func TestSignInActivity(t *testing.T) {
	f := newClockFixture(t, "User.Read.All", "AuditLog.Read.All")
	s := seed(f.ten)
	t0 := f.clock.Now()
	script := []struct {
		at          time.Time
		success     bool
		interactive bool
	}{
		{t0.Add(-72 * time.Hour), true, true},   // last successful interactive
		{t0.Add(-48 * time.Hour), true, false},  // last successful, non-interactive
		{t0.Add(-24 * time.Hour), false, true},  // a failure: still the last interactive sign-in
		{t0.Add(-96 * time.Hour), false, false}, // older than what is recorded: changes nothing
		{t0.Add(-100 * time.Hour), true, true},  // older again
	}
	for _, sc := range script {
		if _, err := f.ten.SignIn(s.ana.ID, SignIn{At: sc.at, Success: sc.success, Interactive: sc.interactive}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]any{
		"lastSignInDateTime":               graphTime(t0.Add(-24 * time.Hour)),
		"lastNonInteractiveSignInDateTime": graphTime(t0.Add(-48 * time.Hour)),
		"lastSuccessfulSignInDateTime":     graphTime(t0.Add(-48 * time.Hour)),
	}
	sel := "/v1.0/users/" + s.ana.ID + "?$select=id,signInActivity"

	t.Run("answered with $select, failures counting as interactive sign-ins", func(t *testing.T) {
		r := f.call(t, http.MethodGet, sel, nil)
		wantStatus(t, r, http.StatusOK)
		got := activity(t, r)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("signInActivity.%s = %v, want %v", k, got[k], v)
			}
		}
		if u, _ := f.ten.User(s.ana.ID); !u.SignInActivity.LastSignIn.Equal(t0.Add(-24 * time.Hour)) {
			t.Errorf("User.SignInActivity = %+v", u.SignInActivity)
		}
	})
	t.Run("never by default", func(t *testing.T) {
		r := f.call(t, http.MethodGet, "/v1.0/users/"+s.ana.ID, nil)
		wantStatus(t, r, http.StatusOK)
		if a := activity(t, r); a != nil {
			t.Errorf("signInActivity = %v without $select, want it absent", a)
		}
	})
	t.Run("absent for a user who never signed in", func(t *testing.T) {
		r := f.call(t, http.MethodGet, "/v1.0/users/"+s.bo.ID+"?$select=id,signInActivity", nil)
		wantStatus(t, r, http.StatusOK)
		if _, present := r.body["signInActivity"]; present {
			t.Errorf("signInActivity present for a user who never signed in: %s", r.raw)
		}
	})
	t.Run("listed for the ids of an in filter", func(t *testing.T) {
		filter := url.QueryEscape(fmt.Sprintf("id in ('%s','%s')", s.ana.ID, s.bo.ID))
		r := f.call(t, http.MethodGet, "/v1.0/users?$filter="+filter+"&$select=id,signInActivity", nil)
		wantStatus(t, r, http.StatusOK)
		if got := ids(r); !slices.Equal(got, []string{s.ana.ID, s.bo.ID}) {
			t.Fatalf("ids = %v, want ana and bo", got)
		}
		items := r.list("value")
		if a, _ := items[0].(map[string]any)["signInActivity"].(map[string]any); a["lastSignInDateTime"] != want["lastSignInDateTime"] {
			t.Errorf("ana's signInActivity = %v", items[0])
		}
		if _, present := items[1].(map[string]any)["signInActivity"]; present {
			t.Errorf("bo's signInActivity present: %v", items[1])
		}
	})
	t.Run("refused without AuditLog.Read.All", func(t *testing.T) {
		tok := f.tokenFor(t, "User.Read.All")
		wantError(t, f.callWith(t, tok, http.MethodGet, sel, nil), http.StatusForbidden, "Authorization_RequestDenied")
		wantStatus(t, f.callWith(t, tok, http.MethodGet, "/v1.0/users/"+s.ana.ID+"?$select=id,mail", nil), http.StatusOK)
	})
	t.Run("refused in a tenant without Entra ID P1", func(t *testing.T) {
		f.ten.SetPremium(false)
		defer f.ten.SetPremium(true)
		r := f.call(t, http.MethodGet, sel, nil)
		wantError(t, r, http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant")
		if msg := r.str("error.message"); msg != "Neither tenant is B2C or tenant doesn't have premium license" {
			t.Errorf("message = %q", msg)
		}
		wantStatus(t, f.call(t, http.MethodGet, "/v1.0/users/"+s.ana.ID, nil), http.StatusOK)
	})
	t.Run("an unknown user cannot sign in", func(t *testing.T) {
		if _, err := f.ten.SignIn("00000000-0000-4000-8000-000000000000", SignIn{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("SignIn(unknown) = %v, want ErrNotFound", err)
		}
	})
}

func TestNoPremiumOption(t *testing.T) {
	f := startFixture(t, Options{NoPremium: true}, nil, "User.Read.All", "AuditLog.Read.All")
	wantError(t, f.call(t, http.MethodGet, "/v1.0/users?$select=id,signInActivity", nil), http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant")
	wantError(t, f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns", nil), http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant")
}

// Graph: "When you specify $select=signInActivity … the maximum page size
// for $top is 120. Requests with $top set higher than 120 will return pages
// with up to 120 users."
func TestSignInActivityCapsThePageAt120(t *testing.T) {
	f := newFixture(t, "User.Read.All", "AuditLog.Read.All")
	for i := range 130 {
		f.ten.AddUser(User{DisplayName: fmt.Sprintf("user %d", i), AccountEnabled: true})
	}
	r := f.call(t, http.MethodGet, "/v1.0/users?$top=999&$select=id,signInActivity", nil)
	wantStatus(t, r, http.StatusOK)
	if n := len(r.list("value")); n != 120 || r.str("@odata.nextLink") == "" {
		t.Errorf("page of %d users (nextLink %q), want 120 and a next page", n, r.str("@odata.nextLink"))
	}
	next := f.call(t, http.MethodGet, r.str("@odata.nextLink"), nil)
	if n := len(next.list("value")); n != 10 {
		t.Errorf("second page of %d users, want 10", n)
	}
	if n := len(f.call(t, http.MethodGet, "/v1.0/users?$top=999&$select=id", nil).list("value")); n != 130 {
		t.Errorf("without signInActivity, a page of %d users, want all 130", n)
	}
}

func TestListSignIns(t *testing.T) {
	f := newClockFixture(t, "User.Read.All", "AuditLog.Read.All")
	f.ten.SetReportsLimit(ReportsLimit{Requests: -1})
	s := seed(f.ten)
	t0 := f.clock.Now()
	var anaIDs []string // newest first
	for i := range 6 {
		id, err := f.ten.SignIn(s.ana.ID, SignIn{At: t0.Add(time.Duration(i) * time.Hour), Success: i%2 == 0, Interactive: true, App: "Contoso Portal", IP: "198.51.100.4"})
		if err != nil {
			t.Fatal(err)
		}
		anaIDs = append([]string{id}, anaIDs...)
	}
	boID, _ := f.ten.SignIn(s.bo.ID, SignIn{At: t0.Add(30 * time.Minute), Success: true})

	t.Run("newest first, every user", func(t *testing.T) {
		r := f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns", nil)
		wantStatus(t, r, http.StatusOK)
		got := ids(r)
		want := append(slices.Clone(anaIDs[:5]), boID, anaIDs[5])
		if !slices.Equal(got, want) {
			t.Errorf("ids = %v, want %v", got, want)
		}
	})
	t.Run("an entry as Graph gives it", func(t *testing.T) {
		r := f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns?$top=1", nil)
		item, _ := r.list("value")[0].(map[string]any)
		status, _ := item["status"].(map[string]any)
		ana, _ := f.ten.User(s.ana.ID)
		checks := map[string]any{
			"userId": s.ana.ID, "userPrincipalName": ana.UserPrincipalName, "userDisplayName": "Ana Lima",
			"appDisplayName": "Contoso Portal", "ipAddress": "198.51.100.4", "isInteractive": true,
			"createdDateTime": t0.Add(5 * time.Hour).Format("2006-01-02T15:04:05.9999999Z"),
		}
		for k, v := range checks {
			if item[k] != v {
				t.Errorf("%s = %v, want %v", k, item[k], v)
			}
		}
		if item["appId"] == "" || item["appId"] == nil {
			t.Error("appId missing")
		}
		if status["errorCode"] != float64(50126) || status["failureReason"] == nil {
			t.Errorf("status of a failed sign-in = %v, want errorCode 50126 and a reason", status)
		}
		ok := f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns/"+anaIDs[1], nil)
		wantStatus(t, ok, http.StatusOK)
		if st, _ := ok.get("status").(map[string]any); st["errorCode"] != float64(0) || st["failureReason"] != nil {
			t.Errorf("status of a success = %v, want errorCode 0 and no reason", st)
		}
	})
	t.Run("filtered by user and time", func(t *testing.T) {
		filter := fmt.Sprintf("userId eq '%s' and createdDateTime ge %s", s.ana.ID, t0.Add(3*time.Hour).Format(time.RFC3339))
		r := f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns?$filter="+url.QueryEscape(filter), nil)
		wantStatus(t, r, http.StatusOK)
		if got := ids(r); !slices.Equal(got, anaIDs[:3]) {
			t.Errorf("ids = %v, want ana's three latest %v", got, anaIDs[:3])
		}
		r = f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns?$filter="+url.QueryEscape("userId eq '"+s.bo.ID+"'"), nil)
		if got := ids(r); !slices.Equal(got, []string{boID}) {
			t.Errorf("bo's sign-ins = %v, want [%s]", got, boID)
		}
	})
	t.Run("paged with $top and nextLink", func(t *testing.T) {
		var got []string
		next := "/v1.0/auditLogs/signIns?$top=3&$filter=" + url.QueryEscape("userId eq '"+s.ana.ID+"'")
		pages := 0
		for next != "" {
			r := f.call(t, http.MethodGet, next, nil)
			wantStatus(t, r, http.StatusOK)
			got = append(got, ids(r)...)
			next = r.str("@odata.nextLink")
			pages++
			if pages > 1 && next != "" {
				// a sign-in logged between pages does not shift them
				_, _ = f.ten.SignIn(s.ana.ID, SignIn{At: t0.Add(10 * time.Hour)})
			}
		}
		if pages != 2 || !slices.Equal(got, anaIDs) {
			t.Errorf("%d pages gave %v, want 2 pages of %v", pages, got, anaIDs)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		wantError(t, f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns?$top=1001", nil), http.StatusBadRequest, "BadRequest")
		wantError(t, f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns?$filter="+url.QueryEscape("status/errorCode eq 0"), nil), http.StatusBadRequest, "BadRequest")
		wantError(t, f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns?$filter="+url.QueryEscape("createdDateTime ge 'yesterday'"), nil), http.StatusBadRequest, "BadRequest")
		wantError(t, f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns?$skiptoken=bogus", nil), http.StatusBadRequest, "BadRequest")
		wantError(t, f.callWith(t, f.tokenFor(t, "User.Read.All", "Directory.Read.All"), http.MethodGet, "/v1.0/auditLogs/signIns", nil), http.StatusForbidden, "Authorization_RequestDenied")
		f.ten.SetPremium(false)
		defer f.ten.SetPremium(true)
		wantError(t, f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns", nil), http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant")
	})
}

// The reports' throttle is on by default at Graph's 5 requests per 10 s
// per app; the 429 says how long to wait.
func TestReportsThrottle(t *testing.T) {
	f := newClockFixture(t, "User.Read.All", "AuditLog.Read.All")
	for i := range 5 {
		wantStatus(t, f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns", nil), http.StatusOK)
		_ = i
	}
	r := f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns", nil)
	wantError(t, r, http.StatusTooManyRequests, "TooManyRequests")
	if got := r.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2 (one request refills in 10 s / 5)", got)
	}
	wantStatus(t, f.call(t, http.MethodGet, "/v1.0/users", nil), http.StatusOK) // other APIs are not the reports
	wantStatus(t, f.callWith(t, f.tokenFor(t, "AuditLog.Read.All"), http.MethodGet, "/v1.0/auditLogs/signIns", nil), http.StatusOK)
	f.clock.Advance(2 * time.Second)
	wantStatus(t, f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns", nil), http.StatusOK)

	f.ten.SetReportsLimit(ReportsLimit{Requests: 50, Per: time.Second})
	for range 50 {
		wantStatus(t, f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns", nil), http.StatusOK)
	}
	if r := f.call(t, http.MethodGet, "/v1.0/auditLogs/signIns", nil); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "0.02" {
		t.Errorf("over a raised limit: %d, Retry-After %q; want 429 and 0.02", r.status, r.header.Get("Retry-After"))
	}
}

func TestSponsors(t *testing.T) {
	f := newFixture(t, "User.Read.All", "User.Invite.All")
	s := seed(f.ten)
	g := f.ten.AddGroup(Group{DisplayName: "Vendor managers", SecurityEnabled: true})
	if err := f.ten.SetSponsors(s.bo.ID, s.ana.ID, g.ID); err != nil {
		t.Fatal(err)
	}
	t.Run("listed as directory objects", func(t *testing.T) {
		r := f.call(t, http.MethodGet, "/v1.0/users/"+s.bo.ID+"/sponsors", nil)
		wantStatus(t, r, http.StatusOK)
		items := r.list("value")
		if len(items) != 2 {
			t.Fatalf("sponsors = %s, want ana and the group", r.raw)
		}
		u, _ := items[0].(map[string]any)
		gr, _ := items[1].(map[string]any)
		if u["@odata.type"] != "#microsoft.graph.user" || u["id"] != s.ana.ID || u["mail"] != "ana@contoso.com" {
			t.Errorf("first sponsor = %v, want ana as a user", u)
		}
		if gr["@odata.type"] != "#microsoft.graph.group" || gr["id"] != g.ID || gr["displayName"] != "Vendor managers" {
			t.Errorf("second sponsor = %v, want the group", gr)
		}
		if !strings.HasSuffix(r.str("@odata.context"), "$metadata#directoryObjects") {
			t.Errorf("@odata.context = %q", r.str("@odata.context"))
		}
	})
	t.Run("none", func(t *testing.T) {
		r := f.call(t, http.MethodGet, "/v1.0/users/"+s.carl.ID+"/sponsors", nil)
		wantStatus(t, r, http.StatusOK)
		if len(r.list("value")) != 0 {
			t.Errorf("sponsors = %s, want none", r.raw)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		wantError(t, f.call(t, http.MethodGet, "/v1.0/users/00000000-0000-4000-8000-000000000000/sponsors", nil), http.StatusNotFound, "Request_ResourceNotFound")
		wantError(t, f.callWith(t, f.tokenFor(t, "User.Invite.All"), http.MethodGet, "/v1.0/users/"+s.bo.ID+"/sponsors", nil), http.StatusForbidden, "Authorization_RequestDenied")
		if err := f.ten.SetSponsors(s.bo.ID, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetSponsors(unknown sponsor) = %v, want ErrNotFound", err)
		}
	})
	t.Run("named by the invitation", func(t *testing.T) {
		body := map[string]any{
			"invitedUserEmailAddress": "dana@agency.example", "inviteRedirectUrl": "https://myapps.microsoft.com",
			"invitedUserSponsors": []map[string]string{{"@odata.type": "#microsoft.graph.directoryObject", "id": s.ana.ID}, {"id": s.pat.ID}},
		}
		r := f.call(t, http.MethodPost, "/v1.0/invitations", body)
		wantStatus(t, r, http.StatusCreated)
		u, _ := f.ten.User(r.str("invitedUser.id"))
		if !slices.Equal(u.Sponsors, []string{s.ana.ID, s.pat.ID}) {
			t.Errorf("the guest's sponsors = %v, want ana and pat", u.Sponsors)
		}
		listed := f.call(t, http.MethodGet, "/v1.0/users/"+u.ID+"/sponsors", nil)
		if got := ids(listed); !slices.Equal(got, []string{s.ana.ID, s.pat.ID}) {
			t.Errorf("GET sponsors = %v", got)
		}
	})
	t.Run("the invitation refuses an unknown sponsor, and more than five", func(t *testing.T) {
		before := len(f.ten.Users())
		unknown := map[string]any{
			"invitedUserEmailAddress": "eli@agency.example", "inviteRedirectUrl": "https://myapps.microsoft.com",
			"invitedUserSponsors": []map[string]string{{"id": "00000000-0000-4000-8000-000000000000"}},
		}
		wantError(t, f.call(t, http.MethodPost, "/v1.0/invitations", unknown), http.StatusBadRequest, "BadRequest")
		six := []map[string]string{}
		for range 6 {
			six = append(six, map[string]string{"id": s.ana.ID})
		}
		unknown["invitedUserSponsors"] = six
		wantError(t, f.call(t, http.MethodPost, "/v1.0/invitations", unknown), http.StatusBadRequest, "BadRequest")
		if len(f.ten.Users()) != before {
			t.Error("a refused invitation created a user")
		}
	})
}
