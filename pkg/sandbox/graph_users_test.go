package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestGraphRequiresAValidToken(t *testing.T) {
	f := newClockFixture(t, "User.Read.All")
	port := f.srv.URL[strings.LastIndex(f.srv.URL, ":"):]

	// A token for the same server reached under another name.
	localhost := "https://localhost" + port
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {testAppID},
		"client_secret": {testSecret}, "scope": {localhost + "/.default"}}
	otherAud := f.postForm(t, "/"+f.ten.TenantID()+"/oauth2/v2.0/token", form)
	wantStatus(t, otherAud, http.StatusBadRequest) // the resource must be the server the client talks to
	req, _ := http.NewRequest(http.MethodPost, localhost+"/"+f.ten.TenantID()+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	localTok := f.do(t, req).str("access_token")

	// A token of another tenant, for this server's audience.
	other := New(Options{TenantID: f.ten.TenantID()})
	other.AddApp(App{ClientID: testAppID, Secret: testSecret, Permissions: []string{"User.Read.All"}})
	rec := httptest.NewRecorder()
	treq := httptest.NewRequest(http.MethodPost, f.srv.URL+"/"+f.ten.TenantID()+"/oauth2/v2.0/token", strings.NewReader(url.Values{
		"grant_type": {"client_credentials"}, "client_id": {testAppID}, "client_secret": {testSecret}, "scope": {f.srv.URL + "/.default"}}.Encode()))
	treq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	other.Handler().ServeHTTP(rec, treq)
	var forged struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &forged)

	tests := []struct {
		name  string
		token string
		msg   string
	}{
		{"no token", "", "Access token is empty."},
		{"not a JWT", "garbage", "IDX14100"},
		{"another audience", localTok, "Invalid audience"},
		{"signed by another tenant", forged.AccessToken, "Invalid signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.callWith(t, tt.token, http.MethodGet, "/v1.0/users", nil)
			wantError(t, r, http.StatusUnauthorized, "InvalidAuthenticationToken")
			if !strings.Contains(r.str("error.message"), tt.msg) {
				t.Errorf("message = %q, want it to mention %q", r.str("error.message"), tt.msg)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		wantStatus(t, f.call(t, http.MethodGet, "/v1.0/users", nil), http.StatusOK)
		f.clock.Advance(3599*time.Second + 6*time.Minute)
		wantError(t, f.call(t, http.MethodGet, "/v1.0/users", nil), http.StatusUnauthorized, "InvalidAuthenticationToken")
	})
}

func TestErrorBodiesCarryRequestIDs(t *testing.T) {
	f := newFixture(t, "User.Read.All")
	g := f.ten.AddGroup(Group{DisplayName: "g"})
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"missing permission", http.MethodPost, "/v1.0/groups/" + g.ID + "/members/$ref", userRef(newGUID()), 403, "Authorization_RequestDenied"},
		{"unknown user", http.MethodGet, "/v1.0/users/" + newGUID(), nil, 404, "Request_ResourceNotFound"},
		{"unknown segment", http.MethodGet, "/v1.0/teams", nil, 400, "BadRequest"},
		{"method not allowed", http.MethodDelete, "/v1.0/users", nil, 405, "Request_BadRequest"},
		{"bad $select", http.MethodGet, "/v1.0/users?$select=shoeSize", nil, 400, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.call(t, tt.method, tt.path, tt.body, "client-request-id", "caller-chosen-id")
			wantError(t, r, tt.status, tt.code)
			if got := r.str("error.innerError.client-request-id"); got != "caller-chosen-id" {
				t.Errorf("innerError.client-request-id = %q, want the caller's", got)
			}
			if got := r.header.Get("client-request-id"); got != "caller-chosen-id" {
				t.Errorf("client-request-id header = %q, want the caller's", got)
			}
			if got := r.header.Get("request-id"); got == "" || got != r.str("error.innerError.request-id") {
				t.Errorf("request-id header = %q, innerError says %q", got, r.str("error.innerError.request-id"))
			}
			if _, err := time.Parse("2006-01-02T15:04:05", r.str("error.innerError.date")); err != nil {
				t.Errorf("innerError.date: %v", err)
			}
		})
	}
	t.Run("403 names nothing secret", func(t *testing.T) {
		r := f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(newGUID()))
		if got := r.str("error.message"); got != "Insufficient privileges to complete the operation." {
			t.Errorf("message = %q", got)
		}
		if strings.Contains(string(r.raw), f.token) || strings.Contains(string(r.raw), testSecret) {
			t.Errorf("403 body leaks a credential: %s", r.raw)
		}
	})
}

func keysOf(v any) []string {
	m, _ := v.(map[string]any)
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestUserProperties(t *testing.T) {
	f := newFixture(t, "User.Read.All")
	s := seed(f.ten)
	tests := []struct {
		name, query string
		want        []string
		context     string
	}{
		{"default properties", "", []string{"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}, "#users"},
		{"only-on-select properties", "?$select=id,userType,accountEnabled,externalUserState,otherMails,createdDateTime",
			[]string{"accountEnabled", "createdDateTime", "externalUserState", "id", "otherMails", "userType"},
			"#users(id,userType,accountEnabled,externalUserState,otherMails,createdDateTime)"},
		{"names are case-insensitive", "?$select=ID,MAIL", []string{"id", "mail"}, "#users(id,mail)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.call(t, http.MethodGet, "/v1.0/users/"+s.bo.ID+tt.query, nil)
			wantStatus(t, r, http.StatusOK)
			got := keysOf(r.body)
			got = slices.DeleteFunc(got, func(k string) bool { return k == "@odata.context" })
			if !slices.Equal(got, tt.want) {
				t.Errorf("properties = %v, want %v", got, tt.want)
			}
			if want := f.srv.URL + "/v1.0/$metadata" + tt.context + "/$entity"; r.str("@odata.context") != want {
				t.Errorf("@odata.context = %q, want %q", r.str("@odata.context"), want)
			}
		})
	}
	t.Run("values", func(t *testing.T) {
		r := f.call(t, http.MethodGet, "/v1.0/users/"+s.bo.ID+"?$select=userType,accountEnabled,externalUserState,otherMails", nil)
		if r.get("userType") != "Guest" || r.get("accountEnabled") != true || r.get("externalUserState") != "PendingAcceptance" {
			t.Errorf("body = %s", r.raw)
		}
		if l := r.list("otherMails"); len(l) != 1 || l[0] != "bo.alt@partner.example" {
			t.Errorf("otherMails = %v", r.get("otherMails"))
		}
		d := f.call(t, http.MethodGet, "/v1.0/users/"+s.ana.ID, nil)
		if v, ok := d.body["givenName"]; !ok || v != nil {
			t.Errorf("givenName = %v (present %v), want null", v, ok)
		}
	})
	t.Run("signInActivity needs AuditLog.Read.All", func(t *testing.T) {
		wantError(t, f.call(t, http.MethodGet, "/v1.0/users?$select=id,signInActivity", nil), 403, "Authorization_RequestDenied")
		r := f.callWith(t, f.tokenFor(t, "User.Read.All", "AuditLog.Read.All"), http.MethodGet, "/v1.0/users?$select=id,signInActivity", nil)
		wantStatus(t, r, http.StatusOK)
		if _, ok := r.list("value")[0].(map[string]any)["signInActivity"]; ok {
			t.Error("signInActivity present for a user who never signed in")
		}
	})
}

func TestFilterUsers(t *testing.T) {
	f := newFixture(t, "User.Read.All")
	s := seed(f.ten)
	adv := []string{"ConsistencyLevel", "eventual"}
	tests := []struct {
		name    string
		filter  string
		extra   string   // more query options
		headers []string // request headers
		want    []User
		code    string // expected error code, if any
	}{
		{"mail eq, any case", "mail eq 'ANA@contoso.com'", "", nil, []User{s.ana}, ""},
		{"mail or otherMails lambda", "mail eq 'bo.alt@partner.example' or otherMails/any(x:x eq 'bo.alt@partner.example')", "", nil, []User{s.bo}, ""},
		{"lambda variable of any name", "otherMails/any(m: m eq 'CARL@home.example')", "", nil, []User{s.carl}, ""},
		{"doubled quote", "mail eq 'o''neil@contoso.com'", "", nil, []User{s.pat}, ""},
		{"startsWith", "startsWith(displayName,'pat')", "", nil, []User{s.pat}, ""},
		{"userType", "userType eq 'Guest'", "", nil, []User{s.bo}, ""},
		{"accountEnabled", "accountEnabled eq false", "", nil, []User{s.carl}, ""},
		{"in", "mail in ('ana@contoso.com', 'carl@contoso.com')", "", nil, []User{s.ana, s.carl}, ""},
		{"and, or, parentheses", "(userType eq 'Member' and accountEnabled eq true) or mail eq 'bo@partner.example'", "", nil, []User{s.ana, s.bo, s.pat}, ""},
		{"property names any case", "MAIL eq 'ana@contoso.com' OR UserPrincipalName eq '" + s.bo.UserPrincipalName + "'", "", nil, []User{s.ana, s.bo}, ""},
		{"id", "id eq '" + s.carl.ID + "'", "", nil, []User{s.carl}, ""},
		{"ne needs advanced query", "mail ne 'ana@contoso.com'", "", nil, nil, "Request_UnsupportedQuery"},
		{"endsWith needs advanced query", "endsWith(mail,'@contoso.com')", "", nil, nil, "Request_UnsupportedQuery"},
		{"not needs advanced query", "not(userType eq 'Guest')", "", nil, nil, "Request_UnsupportedQuery"},
		{"header alone is not enough", "endsWith(mail,'@contoso.com')", "", adv, nil, "Request_UnsupportedQuery"},
		{"endsWith as advanced query", "endsWith(mail,'@contoso.com')", "&$count=true", adv, []User{s.ana, s.pat, s.carl}, ""},
		{"ne as advanced query", "mail ne 'ana@contoso.com'", "&$count=true", adv, []User{s.bo, s.pat, s.carl}, ""},
		{"unfilterable property", "city eq 'Oslo'", "", nil, nil, "Request_UnsupportedQuery"},
		{"all lambda", "otherMails/all(x:x eq 'a')", "", nil, nil, "Request_UnsupportedQuery"},
		{"syntax error", "mail eq", "", nil, nil, "BadRequest"},
		{"unterminated string", "mail eq 'ana", "", nil, nil, "BadRequest"},
		{"type mismatch", "accountEnabled eq 'true'", "", nil, nil, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.call(t, http.MethodGet, "/v1.0/users?$filter="+url.QueryEscape(tt.filter)+tt.extra, nil, tt.headers...)
			if tt.code != "" {
				wantError(t, r, http.StatusBadRequest, tt.code)
				return
			}
			wantStatus(t, r, http.StatusOK)
			var want []string
			for _, u := range tt.want {
				want = append(want, u.ID)
			}
			if got := ids(r); !slices.Equal(got, want) {
				t.Errorf("ids = %v, want %v", got, want)
			}
			if tt.extra != "" && r.get("@odata.count") != float64(len(want)) {
				t.Errorf("@odata.count = %v, want %d", r.get("@odata.count"), len(want))
			}
		})
	}
	t.Run("$count without ConsistencyLevel is ignored", func(t *testing.T) {
		r := f.call(t, http.MethodGet, "/v1.0/users?$count=true", nil)
		wantStatus(t, r, http.StatusOK)
		if _, ok := r.body["@odata.count"]; ok {
			t.Error("@odata.count present without ConsistencyLevel: eventual")
		}
	})
	for _, q := range []string{"$top=1000", "$top=0", "$orderby=displayName", "$search=%22displayName:ana%22"} {
		t.Run(q, func(t *testing.T) {
			wantError(t, f.call(t, http.MethodGet, "/v1.0/users?"+q, nil), http.StatusBadRequest, "Request_UnsupportedQuery")
		})
	}
}

func TestGetUser(t *testing.T) {
	f := newFixture(t, "User.Read.All")
	s := seed(f.ten)
	if !strings.HasSuffix(s.bo.UserPrincipalName, "#EXT#@"+f.ten.Domain()) {
		t.Fatalf("guest UPN = %q", s.bo.UserPrincipalName)
	}
	escaped := strings.ReplaceAll(s.bo.UserPrincipalName, "#", "%23")
	for _, key := range []string{s.bo.ID, strings.ToUpper(s.bo.ID), escaped} {
		t.Run(key, func(t *testing.T) {
			r := f.call(t, http.MethodGet, "/v1.0/users/"+key, nil)
			wantStatus(t, r, http.StatusOK)
			if r.str("id") != s.bo.ID {
				t.Errorf("id = %q, want %q", r.str("id"), s.bo.ID)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		id := newGUID()
		r := f.call(t, http.MethodGet, "/v1.0/users/"+id, nil)
		wantError(t, r, http.StatusNotFound, "Request_ResourceNotFound")
		if want := "Resource '" + id + "' does not exist or one of its queried reference-property objects are not present."; r.str("error.message") != want {
			t.Errorf("message = %q, want %q", r.str("error.message"), want)
		}
	})
}

func TestPatchUser(t *testing.T) {
	f := newFixture(t)
	s := seed(f.ten)
	enable := f.tokenFor(t, "User.EnableDisableAccount.All")
	write := f.tokenFor(t, "User.ReadWrite.All")
	lifecycle := f.tokenFor(t, "User.Read.All", "User-LifeCycleInfo.ReadWrite.All")
	tests := []struct {
		name   string
		token  string
		body   string
		status int
	}{
		{"disable with EnableDisableAccount", enable, `{"accountEnabled":false}`, 204},
		{"with the SDK's @odata.type", enable, `{"@odata.type":"#microsoft.graph.user","accountEnabled":false}`, 204},
		{"@odata.type of another type", enable, `{"@odata.type":"#microsoft.graph.group","accountEnabled":false}`, 400},
		{"null accountEnabled", enable, `{"accountEnabled":null}`, 400},
		{"unmodelled property", write, `{"jobTitle":"Engineer"}`, 400},
		{"rename needs more than EnableDisableAccount", enable, `{"displayName":"X"}`, 403},
		{"disable and rename with User.ReadWrite.All", write, `{"accountEnabled":false,"displayName":"Ana L."}`, 204},
		{"leave date needs lifecycle permission", write, `{"employeeLeaveDateTime":"2026-04-01T00:00:00Z"}`, 403},
		{"leave date", lifecycle, `{"employeeLeaveDateTime":"2026-04-01T00:00:00Z"}`, 204},
		{"leave date cleared", lifecycle, `{"employeeLeaveDateTime":null}`, 204},
		{"wrong type", write, `{"accountEnabled":"no"}`, 400},
		{"not JSON", write, `{accountEnabled`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.callWith(t, tt.token, http.MethodPatch, "/v1.0/users/"+s.ana.ID, tt.body)
			wantStatus(t, r, tt.status)
			if tt.status == 204 && len(r.raw) != 0 {
				t.Errorf("204 with a body: %s", r.raw)
			}
		})
	}
	got, _ := f.ten.User(s.ana.ID)
	if got.AccountEnabled || got.DisplayName != "Ana L." || !got.EmployeeLeaveDateTime.IsZero() {
		t.Errorf("user after patches = %+v", got)
	}
	wantError(t, f.callWith(t, write, http.MethodPatch, "/v1.0/users/"+newGUID(), `{"accountEnabled":false}`), 404, "Request_ResourceNotFound")
}

func TestRevokeSignInSessions(t *testing.T) {
	f := newFixture(t, "User.RevokeSessions.All")
	s := seed(f.ten)
	for _, u := range []User{s.ana, s.bo} {
		r := f.call(t, http.MethodPost, "/v1.0/users/"+u.ID+"/revokeSignInSessions", nil)
		wantStatus(t, r, http.StatusOK)
		want := `{"@odata.context":"` + f.srv.URL + `/v1.0/$metadata#Edm.Boolean","value":true}`
		if string(r.raw) != want {
			t.Errorf("body = %s, want %s", r.raw, want)
		}
		if got, _ := f.ten.User(u.ID); got.SessionsRevokedAt.IsZero() {
			t.Errorf("%s: SessionsRevokedAt not recorded", u.DisplayName)
		}
	}
	wantError(t, f.call(t, http.MethodPost, "/v1.0/users/"+newGUID()+"/revokeSignInSessions", nil), 404, "Request_ResourceNotFound")
	wantError(t, f.callWith(t, f.tokenFor(t, "User.Read.All"), http.MethodPost, "/v1.0/users/"+s.ana.ID+"/revokeSignInSessions", nil), 403, "Authorization_RequestDenied")
}

func TestInvite(t *testing.T) {
	f := newFixture(t, "User.Invite.All", "User.Read.All")
	s := seed(f.ten)
	body := map[string]any{
		"invitedUserEmailAddress": "dana@supplier.example",
		"inviteRedirectUrl":       "https://myapps.microsoft.com",
		"invitedUserDisplayName":  "Dana",
		"sendInvitationMessage":   true,
	}
	r := f.call(t, http.MethodPost, "/v1.0/invitations", body)
	wantStatus(t, r, http.StatusCreated)
	uid := r.str("invitedUser.id")
	checks := map[string]any{
		"@odata.context":          f.srv.URL + "/v1.0/$metadata#invitations/$entity",
		"invitedUserDisplayName":  "Dana",
		"invitedUserEmailAddress": "dana@supplier.example",
		"sendInvitationMessage":   true,
		"inviteRedirectUrl":       "https://myapps.microsoft.com",
		"status":                  "PendingAcceptance",
		"invitedUserType":         "Guest",
	}
	for k, v := range checks {
		if r.get(k) != v {
			t.Errorf("%s = %v, want %v", k, r.get(k), v)
		}
	}
	if r.str("id") == "" || r.str("inviteRedeemUrl") == "" || uid == "" {
		t.Errorf("id, inviteRedeemUrl and invitedUser.id must be set: %s", r.raw)
	}
	guest, ok := f.ten.User(uid)
	if !ok {
		t.Fatalf("invited user %s not created", uid)
	}
	if guest.UserType != "Guest" || guest.ExternalUserState != "PendingAcceptance" || !guest.AccountEnabled ||
		guest.Mail != "dana@supplier.example" || guest.DisplayName != "Dana" {
		t.Errorf("guest = %+v", guest)
	}
	if want := "dana_supplier.example#EXT#@" + f.ten.Domain(); guest.UserPrincipalName != want {
		t.Errorf("UPN = %q, want %q", guest.UserPrincipalName, want)
	}
	invs := f.ten.Invitations()
	if len(invs) != 1 || !invs[0].SendInvitationMessage || invs[0].RedirectURL != "https://myapps.microsoft.com" || invs[0].InvitedUserID != uid {
		t.Errorf("Invitations() = %+v", invs)
	}

	t.Run("existing guest is answered with the same object", func(t *testing.T) {
		r := f.call(t, http.MethodPost, "/v1.0/invitations", map[string]any{"invitedUserEmailAddress": "BO@partner.example", "inviteRedirectUrl": "https://x.example"})
		wantStatus(t, r, http.StatusCreated)
		if r.str("invitedUser.id") != s.bo.ID {
			t.Errorf("invitedUser.id = %q, want %q", r.str("invitedUser.id"), s.bo.ID)
		}
		if got, _ := f.ten.User(s.bo.ID); got.ExternalUserState != "PendingAcceptance" || got.DisplayName != "Bo Berg" {
			t.Errorf("existing guest changed: %+v", got)
		}
	})
	t.Run("existing member", func(t *testing.T) {
		r := f.call(t, http.MethodPost, "/v1.0/invitations", map[string]any{"invitedUserEmailAddress": "ana@contoso.com", "inviteRedirectUrl": "https://x.example"})
		wantError(t, r, http.StatusBadRequest, "BadRequest")
		if want := "The invited user already exists in the directory as objectID: " + s.ana.ID; !strings.HasPrefix(r.str("error.message"), want) {
			t.Errorf("message = %q, want prefix %q", r.str("error.message"), want)
		}
	})
	for _, missing := range []string{"invitedUserEmailAddress", "inviteRedirectUrl"} {
		t.Run("missing "+missing, func(t *testing.T) {
			b := map[string]any{"invitedUserEmailAddress": "e@x.example", "inviteRedirectUrl": "https://x.example"}
			delete(b, missing)
			r := f.call(t, http.MethodPost, "/v1.0/invitations", b)
			wantError(t, r, http.StatusBadRequest, "BadRequest")
			if !strings.Contains(r.str("error.message"), missing) {
				t.Errorf("message %q does not name %s", r.str("error.message"), missing)
			}
		})
	}
	t.Run("redeeming accepts", func(t *testing.T) {
		f.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		defer func() { f.client.CheckRedirect = nil }()
		res := f.call(t, http.MethodGet, invs[0].RedeemURL, nil)
		wantStatus(t, res, http.StatusFound)
		if got, _ := f.ten.User(uid); got.ExternalUserState != "Accepted" {
			t.Errorf("externalUserState = %q after redeeming", got.ExternalUserState)
		}
	})
	t.Run("needs User.Invite.All", func(t *testing.T) {
		wantError(t, f.callWith(t, f.tokenFor(t, "User.Read.All"), http.MethodPost, "/v1.0/invitations", body), 403, "Authorization_RequestDenied")
	})
}

func TestListUsersPaging(t *testing.T) {
	f := newFixture(t, "User.Read.All")
	var want []string
	for range 250 {
		want = append(want, f.ten.AddUser(User{AccountEnabled: true}).ID)
	}
	var got []string
	next := "/v1.0/users?$top=100&$select=id,mail"
	pages := 0
	for next != "" {
		r := f.call(t, http.MethodGet, next, nil)
		wantStatus(t, r, http.StatusOK)
		got = append(got, ids(r)...)
		next = r.str("@odata.nextLink")
		if next != "" && (!strings.HasPrefix(next, f.srv.URL+"/v1.0/users?") || !strings.Contains(next, "$skiptoken=") || !strings.Contains(next, "$select=id,mail")) {
			t.Fatalf("nextLink = %q: want an absolute URL on this server keeping the query and adding $skiptoken", next)
		}
		pages++
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Errorf("%d pages, %d users; want 3 pages and every user once, in order", pages, len(got))
	}
}

func TestCheckMemberGroups(t *testing.T) {
	f := newFixture(t, "User.Read.All", "GroupMember.ReadWrite.All")
	s := seed(f.ten)
	in := f.ten.AddGroup(Group{DisplayName: "in", SecurityEnabled: true})
	out := f.ten.AddGroup(Group{DisplayName: "out", SecurityEnabled: true})
	f.ten.AddMember(in.ID, s.ana.ID)
	r := f.call(t, http.MethodPost, "/v1.0/users/"+s.ana.ID+"/checkMemberGroups", map[string]any{"groupIds": []string{in.ID, out.ID, newGUID()}})
	wantStatus(t, r, http.StatusOK)
	if got := r.list("value"); len(got) != 1 || got[0] != in.ID {
		t.Errorf("checkMemberGroups = %v, want only the group ana is in", got)
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = newGUID()
	}
	wantError(t, f.call(t, http.MethodPost, "/v1.0/users/"+s.ana.ID+"/checkMemberGroups", map[string]any{"groupIds": many}), 400, "Request_BadRequest")
	wantError(t, f.call(t, http.MethodPost, "/v1.0/users/"+newGUID()+"/checkMemberGroups", map[string]any{"groupIds": []string{in.ID}}), 404, "Request_ResourceNotFound")
	wantError(t, f.callWith(t, f.tokenFor(t, "User.Read.All"), http.MethodPost, "/v1.0/users/"+s.ana.ID+"/checkMemberGroups", map[string]any{"groupIds": []string{in.ID}}), 403, "Authorization_RequestDenied")
}
