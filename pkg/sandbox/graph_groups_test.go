package sandbox

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// errorBodyWithoutIDs reduces a Graph error body to its code and message,
// after checking that innerError carries the per-request fields.
func errorBodyWithoutIDs(tb testing.TB, r resp) string {
	tb.Helper()
	var body struct {
		Error struct {
			Code       string            `json:"code"`
			Message    string            `json:"message"`
			InnerError map[string]string `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.raw, &body); err != nil {
		tb.Fatalf("error body: %v: %s", err, r.raw)
	}
	keys := []string{}
	for k := range body.Error.InnerError {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"client-request-id", "date", "request-id"}) {
		tb.Errorf("innerError keys = %v", keys)
	}
	return body.Error.Code + ": " + body.Error.Message
}

func TestGetGroup(t *testing.T) {
	f := newFixture(t, "GroupMember.Read.All")
	g := f.ten.AddGroup(Group{DisplayName: "Contractors", SecurityEnabled: true})
	r := f.call(t, http.MethodGet, "/v1.0/groups/"+g.ID, nil)
	wantStatus(t, r, http.StatusOK)
	want := map[string]any{"id": g.ID, "displayName": "Contractors", "isAssignableToRole": false, "securityEnabled": true, "mailEnabled": false,
		"@odata.context": f.srv.URL + "/v1.0/$metadata#groups/$entity"}
	for k, v := range want {
		if r.get(k) != v {
			t.Errorf("%s = %v, want %v", k, r.get(k), v)
		}
	}
	sel := f.call(t, http.MethodGet, "/v1.0/groups/"+g.ID+"?$select=id,isAssignableToRole", nil)
	if got := keysOf(sel.body); !slices.Equal(got, []string{"@odata.context", "id", "isAssignableToRole"}) {
		t.Errorf("$select keys = %v", got)
	}
	wantError(t, f.call(t, http.MethodGet, "/v1.0/groups/"+g.ID+"?$select=owners2", nil), 400, "BadRequest")
	wantError(t, f.call(t, http.MethodGet, "/v1.0/groups/"+newGUID(), nil), 404, "Request_ResourceNotFound")
}

func TestAddMember(t *testing.T) {
	f := newFixture(t, "GroupMember.ReadWrite.All")
	s := seed(f.ten)
	g := f.ten.AddGroup(Group{DisplayName: "Contractors"})
	admins := f.ten.AddGroup(Group{DisplayName: "Helpdesk admins", IsAssignableToRole: true})
	path := "/v1.0/groups/" + g.ID + "/members/$ref"

	wantStatus(t, f.call(t, http.MethodPost, path, userRef(s.ana.ID)), http.StatusNoContent)
	wantStatus(t, f.call(t, http.MethodPost, path, map[string]string{"@odata.id": "https://127.0.0.1/v1.0/users/" + s.bo.ID}), http.StatusNoContent)
	if got := f.ten.Members(g.ID); !slices.Equal(got, []string{s.ana.ID, s.bo.ID}) {
		t.Errorf("members = %v", got)
	}

	t.Run("already a member", func(t *testing.T) {
		r := f.call(t, http.MethodPost, path, userRef(s.ana.ID))
		wantStatus(t, r, http.StatusBadRequest)
		want := "Request_BadRequest: One or more added object references already exist for the following modified properties: 'members'."
		if got := errorBodyWithoutIDs(t, r); got != want {
			t.Errorf("body = %q, want %q", got, want)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		wantError(t, f.call(t, http.MethodPost, path, userRef(newGUID())), 404, "Request_ResourceNotFound")
	})
	t.Run("unknown group", func(t *testing.T) {
		wantError(t, f.call(t, http.MethodPost, "/v1.0/groups/"+newGUID()+"/members/$ref", userRef(s.ana.ID)), 404, "Request_ResourceNotFound")
	})
	t.Run("not a directory object URL", func(t *testing.T) {
		wantError(t, f.call(t, http.MethodPost, path, map[string]string{"@odata.id": "https://graph.microsoft.com/v1.0/groups/" + g.ID}), 400, "Request_BadRequest")
	})
	t.Run("role-assignable group needs RoleManagement.ReadWrite.Directory", func(t *testing.T) {
		p := "/v1.0/groups/" + admins.ID + "/members/$ref"
		wantError(t, f.call(t, http.MethodPost, p, userRef(s.ana.ID)), 403, "Authorization_RequestDenied")
		tok := f.tokenFor(t, "GroupMember.ReadWrite.All", "RoleManagement.ReadWrite.Directory")
		wantStatus(t, f.callWith(t, tok, http.MethodPost, p, userRef(s.ana.ID)), http.StatusNoContent)
	})
	t.Run("read permission is not enough", func(t *testing.T) {
		wantError(t, f.callWith(t, f.tokenFor(t, "GroupMember.Read.All"), http.MethodPost, path, userRef(s.pat.ID)), 403, "Authorization_RequestDenied")
	})
}

func TestRemoveMember(t *testing.T) {
	f := newFixture(t, "GroupMember.ReadWrite.All")
	s := seed(f.ten)
	g := f.ten.AddGroup(Group{DisplayName: "Contractors"})
	for _, u := range []User{s.ana, s.bo} {
		if err := f.ten.AddMember(g.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("without $ref the member object is not touched", func(t *testing.T) {
		wantError(t, f.call(t, http.MethodDelete, "/v1.0/groups/"+g.ID+"/members/"+s.ana.ID, nil), 405, "Request_BadRequest")
		if got := f.ten.Members(g.ID); len(got) != 2 {
			t.Errorf("members = %v", got)
		}
		if _, ok := f.ten.User(s.ana.ID); !ok {
			t.Error("user deleted")
		}
	})
	wantStatus(t, f.call(t, http.MethodDelete, "/v1.0/groups/"+g.ID+"/members/"+s.ana.ID+"/$ref", nil), http.StatusNoContent)
	if got := f.ten.Members(g.ID); !slices.Equal(got, []string{s.bo.ID}) {
		t.Errorf("members = %v", got)
	}
	t.Run("not a member", func(t *testing.T) {
		r := f.call(t, http.MethodDelete, "/v1.0/groups/"+g.ID+"/members/"+s.ana.ID+"/$ref", nil)
		wantStatus(t, r, http.StatusNotFound)
		want := "Request_ResourceNotFound: Resource '" + s.ana.ID + "' does not exist or one of its queried reference-property objects are not present."
		if got := errorBodyWithoutIDs(t, r); got != want {
			t.Errorf("body = %q, want %q", got, want)
		}
	})
}

func TestPatchGroupMembersBind(t *testing.T) {
	f := newFixture(t, "GroupMember.ReadWrite.All")
	g := f.ten.AddGroup(Group{DisplayName: "Contractors"})
	var users []User
	for range 23 {
		users = append(users, f.ten.AddUser(User{AccountEnabled: true}))
	}
	bind := func(us ...User) map[string]any {
		var refs []string
		for _, u := range us {
			refs = append(refs, "https://graph.microsoft.com/v1.0/directoryObjects/"+u.ID)
		}
		return map[string]any{"members@odata.bind": refs}
	}
	path := "/v1.0/groups/" + g.ID
	sdkStyle := bind(users[0], users[1])
	sdkStyle["@odata.type"] = "#microsoft.graph.group"
	wantStatus(t, f.call(t, http.MethodPatch, path, sdkStyle), http.StatusNoContent)
	wantStatus(t, f.call(t, http.MethodPatch, path, bind(users[2])), http.StatusNoContent)
	wantError(t, f.call(t, http.MethodPatch, path, bind(users[:21]...)), 400, "Request_BadRequest")

	r := f.call(t, http.MethodPatch, path, bind(users[3], users[1]))
	wantStatus(t, r, http.StatusBadRequest)
	if got := errorBodyWithoutIDs(t, r); !strings.HasSuffix(got, alreadyMember) {
		t.Errorf("body = %q, want the already-a-member message", got)
	}
	if got := len(f.ten.Members(g.ID)); got != 3 {
		t.Errorf("%d members after a refused bind, want 3 (all or nothing)", got)
	}
	wantStatus(t, f.call(t, http.MethodPatch, path, bind(users[3:23]...)), http.StatusNoContent) // exactly 20
	if got := len(f.ten.Members(g.ID)); got != 23 {
		t.Errorf("%d members, want 23", got)
	}
}

// pageMembers follows nextLinks from path and returns the ids and pages.
func pageMembers(tb testing.TB, f *fixture, path string, headers ...string) ([]string, []resp) {
	tb.Helper()
	var got []string
	var pages []resp
	for next := path; next != ""; {
		r := f.call(tb, http.MethodGet, next, nil, headers...)
		wantStatus(tb, r, http.StatusOK)
		got = append(got, ids(r)...)
		pages = append(pages, r)
		next = r.str("@odata.nextLink")
	}
	return got, pages
}

func TestListMembersPaging(t *testing.T) {
	f := newFixture(t, "GroupMember.Read.All")
	g := f.ten.AddGroup(Group{DisplayName: "big"})
	var want []string
	for range 2500 {
		u := f.ten.AddUser(User{AccountEnabled: true})
		_ = f.ten.AddMember(g.ID, u.ID)
		want = append(want, u.ID)
	}
	got, pages := pageMembers(t, f, "/v1.0/groups/"+g.ID+"/members?$top=999&$select=id,mail")
	if len(pages) != 3 {
		t.Fatalf("%d pages, want 3", len(pages))
	}
	for i, p := range pages[:2] {
		next := p.str("@odata.nextLink")
		if !strings.HasPrefix(next, f.srv.URL+"/v1.0/groups/"+g.ID+"/members?") || !strings.Contains(next, "$skiptoken=") || !strings.Contains(next, "$top=999") {
			t.Errorf("page %d nextLink = %q", i, next)
		}
		if n := len(p.list("value")); n != 999 {
			t.Errorf("page %d has %d members, want 999", i, n)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %d members, want all %d in insertion order", len(got), len(want))
	}
	if _, ok := pages[2].body["@odata.nextLink"]; ok {
		t.Error("last page has a nextLink")
	}
}

func TestListMembersPagingSurvivesRemovals(t *testing.T) {
	f := newFixture(t, "GroupMember.ReadWrite.All")
	g := f.ten.AddGroup(Group{DisplayName: "g"})
	var all []string
	for range 10 {
		u := f.ten.AddUser(User{AccountEnabled: true})
		_ = f.ten.AddMember(g.ID, u.ID)
		all = append(all, u.ID)
	}
	first := f.call(t, http.MethodGet, "/v1.0/groups/"+g.ID+"/members?$top=4", nil)
	// Remove a member already listed and one not yet listed.
	wantStatus(t, f.call(t, http.MethodDelete, "/v1.0/groups/"+g.ID+"/members/"+all[1]+"/$ref", nil), 204)
	wantStatus(t, f.call(t, http.MethodDelete, "/v1.0/groups/"+g.ID+"/members/"+all[6]+"/$ref", nil), 204)
	rest, _ := pageMembers(t, f, first.str("@odata.nextLink"))
	want := []string{all[4], all[5], all[7], all[8], all[9]}
	if !slices.Equal(rest, want) {
		t.Errorf("after removals the next pages list %v, want %v", rest, want)
	}
}

func TestListMembers100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 members")
	}
	f := newFixture(t, "GroupMember.Read.All")
	g := f.ten.AddGroup(Group{DisplayName: "everyone"})
	const n = 100_000
	for range n {
		u := f.ten.AddUser(User{AccountEnabled: true})
		_ = f.ten.AddMember(g.ID, u.ID)
	}
	start := time.Now()
	got, pages := pageMembers(t, f, "/v1.0/groups/"+g.ID+"/members/microsoft.graph.user?$top=999&$select=id")
	elapsed := time.Since(start)
	if len(got) != n || len(pages) != 101 {
		t.Errorf("%d members in %d pages, want %d in 101", len(got), len(pages), n)
	}
	seen := make(map[string]bool, n)
	for _, id := range got {
		seen[id] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct members, want %d", len(seen), n)
	}
	if elapsed > 15*time.Second {
		t.Errorf("paging 100k members took %v", elapsed)
	}
	t.Logf("paged %d members in %v", n, elapsed)
}

func TestListMembersCastForms(t *testing.T) {
	f := newFixture(t, "GroupMember.Read.All")
	s := seed(f.ten)
	g := f.ten.AddGroup(Group{DisplayName: "g"})
	_ = f.ten.AddMember(g.ID, s.bo.ID)
	tests := []struct {
		path, context string
		typed         bool
	}{
		{"/members", "#directoryObjects", true},
		{"/members/microsoft.graph.user", "#users", false},
		{"/members/graph.user", "#users", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := f.call(t, http.MethodGet, "/v1.0/groups/"+g.ID+tt.path, nil)
			wantStatus(t, r, http.StatusOK)
			if want := f.srv.URL + "/v1.0/$metadata" + tt.context; r.str("@odata.context") != want {
				t.Errorf("@odata.context = %q, want %q", r.str("@odata.context"), want)
			}
			item := r.list("value")[0].(map[string]any)
			_, typed := item["@odata.type"]
			if typed != tt.typed || (typed && item["@odata.type"] != "#microsoft.graph.user") {
				t.Errorf("@odata.type = %v, want present=%v", item["@odata.type"], tt.typed)
			}
			if item["id"] != s.bo.ID || item["userPrincipalName"] != s.bo.UserPrincipalName {
				t.Errorf("item = %v", item)
			}
			if _, ok := item["userType"]; ok {
				t.Error("userType returned without $select")
			}
		})
	}
}

func TestListMembersFilterNeedsAdvancedQuery(t *testing.T) {
	f := newFixture(t, "GroupMember.Read.All")
	s := seed(f.ten)
	g := f.ten.AddGroup(Group{DisplayName: "g"})
	for _, u := range []User{s.ana, s.bo, s.pat} {
		_ = f.ten.AddMember(g.ID, u.ID)
	}
	path := "/v1.0/groups/" + g.ID + "/members?$filter=userType%20eq%20'Guest'"
	wantError(t, f.call(t, http.MethodGet, path, nil), 400, "Request_UnsupportedQuery")
	wantError(t, f.call(t, http.MethodGet, path+"&$count=true", nil), 400, "Request_UnsupportedQuery")
	r := f.call(t, http.MethodGet, path+"&$count=true", nil, "ConsistencyLevel", "eventual")
	wantStatus(t, r, http.StatusOK)
	if got := ids(r); !slices.Equal(got, []string{s.bo.ID}) || r.get("@odata.count") != 1.0 {
		t.Errorf("ids = %v, count = %v; want only the guest", got, r.get("@odata.count"))
	}
}

func TestGzipRequestBodies(t *testing.T) {
	f := newFixture(t, "GroupMember.ReadWrite.All")
	s := seed(f.ten)
	g := f.ten.AddGroup(Group{DisplayName: "g"})
	body, _ := json.Marshal(userRef(s.ana.ID))
	path := "/v1.0/groups/" + g.ID + "/members/$ref"

	wantStatus(t, f.call(t, http.MethodPost, path, gzipped(t, body), "Content-Encoding", "gzip"), http.StatusNoContent)
	r := f.call(t, http.MethodPost, path, body, "Content-Encoding", "gzip")
	wantError(t, r, http.StatusBadRequest, "BadRequest")
	if r.str("error.message") != "Invalid Data." {
		t.Errorf("message = %q, want Invalid Data.", r.str("error.message"))
	}
}

// members@odata.bind naming an object the directory lacks fails the whole
// PATCH with Graph's not-found answer, naming that object; nobody is added.
func TestPatchGroupMembersBindUnknown(t *testing.T) {
	f := newFixture(t, "GroupMember.ReadWrite.All")
	g := f.ten.AddGroup(Group{DisplayName: "Contractors"})
	known := f.ten.AddUser(User{AccountEnabled: true})
	unknown := newGUID()
	r := f.call(t, http.MethodPatch, "/v1.0/groups/"+g.ID, map[string]any{"members@odata.bind": []string{
		"https://graph.microsoft.com/v1.0/directoryObjects/" + known.ID,
		"https://graph.microsoft.com/v1.0/directoryObjects/" + unknown,
	}})
	wantStatus(t, r, http.StatusNotFound)
	want := "Request_ResourceNotFound: Resource '" + unknown + "' does not exist or one of its queried reference-property objects are not present."
	if got := errorBodyWithoutIDs(t, r); got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	if got := f.ten.Members(g.ID); len(got) != 0 {
		t.Errorf("members after a refused bind = %v, want none (all or nothing)", got)
	}
}
