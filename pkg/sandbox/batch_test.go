package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

// batchResponses indexes the items of a $batch answer by id.
func batchResponses(tb testing.TB, r resp) map[string]map[string]any {
	tb.Helper()
	wantStatus(tb, r, http.StatusOK)
	out := map[string]map[string]any{}
	for _, v := range r.list("responses") {
		m := v.(map[string]any)
		out[m["id"].(string)] = m
	}
	return out
}

func itemStatus(m map[string]any) int {
	s, _ := m["status"].(float64)
	return int(s)
}

func itemHeader(m map[string]any, name string) string {
	h, _ := m["headers"].(map[string]any)
	for k, v := range h {
		if http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

func refItem(id, gid, uid string) map[string]any {
	return map[string]any{"id": id, "method": "POST", "url": "/groups/" + gid + "/members/$ref",
		"headers": map[string]string{"Content-Type": "application/json"}, "body": userRef(uid)}
}

func TestBatch(t *testing.T) {
	f := newFixture(t, "User.Read.All", "GroupMember.ReadWrite.All")
	s := seed(f.ten)
	g := f.ten.AddGroup(Group{DisplayName: "g"})
	f.ten.ResetJournal()
	r := f.call(t, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "GET", "url": "/users/" + s.ana.ID + "?$select=id,userType"},
		map[string]any{"id": "2", "method": "GET", "url": "users/" + s.bo.ID},
		refItem("3", g.ID, s.pat.ID),
		map[string]any{"id": "4", "method": "GET", "url": "/users/" + newGUID()},
	}})
	items := batchResponses(t, r)
	want := map[string]int{"1": 200, "2": 200, "3": 204, "4": 404}
	for id, status := range want {
		if got := itemStatus(items[id]); got != status {
			t.Errorf("item %s status = %d, want %d: %v", id, got, status, items[id])
		}
	}
	body1, _ := items["1"]["body"].(map[string]any)
	if body1["userType"] != "Member" || body1["id"] != s.ana.ID {
		t.Errorf("item 1 body = %v", body1)
	}
	if itemHeader(items["1"], "Content-Type") == "" {
		t.Errorf("item 1 has no Content-Type header: %v", items["1"]["headers"])
	}
	body4, _ := items["4"]["body"].(map[string]any)
	if e, _ := body4["error"].(map[string]any); e["code"] != "Request_ResourceNotFound" {
		t.Errorf("item 4 body = %v", body4)
	}
	if got := f.ten.Members(g.ID); !slices.Equal(got, []string{s.pat.ID}) {
		t.Errorf("members = %v", got)
	}
	var order []string
	for _, v := range r.list("responses") {
		order = append(order, v.(map[string]any)["id"].(string))
	}
	if slices.Equal(order, []string{"1", "2", "3", "4"}) {
		t.Errorf("responses in request order %v: the sandbox should not let clients rely on order", order)
	}
	j := f.ten.Journal()
	inBatch := 0
	for _, e := range j {
		if e.InBatch {
			inBatch++
		}
	}
	if inBatch != 4 || len(f.ten.GraphRequests()) != 1 {
		t.Errorf("journal: %d batch items and %d wire requests, want 4 and 1", inBatch, len(f.ten.GraphRequests()))
	}
}

func TestBatchRejectsMalformedEnvelopes(t *testing.T) {
	f := newFixture(t, "User.Read.All")
	get := func(id, url string) map[string]any { return map[string]any{"id": id, "method": "GET", "url": url} }
	var many []any
	for i := range maxBatch + 1 {
		many = append(many, get(fmt.Sprint(i), "/users"))
	}
	tests := []struct {
		name     string
		requests []any
	}{
		{"absolute url", []any{get("1", "https://graph.microsoft.com/v1.0/users")}},
		{"absolute url on this server", []any{get("1", f.srv.URL+"/v1.0/users")}},
		{"more than 20 requests", many},
		{"duplicate ids, any case", []any{get("a", "/users"), get("A", "/users")}},
		{"unknown dependency", []any{map[string]any{"id": "1", "method": "GET", "url": "/users", "dependsOn": []string{"9"}}}},
		{"no requests", []any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, f.call(t, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": tt.requests}), 400, "BadRequest")
		})
	}
}

func TestBatchDependsOn(t *testing.T) {
	f := newFixture(t, "GroupMember.ReadWrite.All")
	s := seed(f.ten)
	g := f.ten.AddGroup(Group{DisplayName: "g"})
	_ = f.ten.AddMember(g.ID, s.ana.ID)
	second := refItem("2", g.ID, s.bo.ID)
	second["dependsOn"] = []string{"1"}
	third := refItem("3", g.ID, s.pat.ID)
	third["dependsOn"] = []string{"2"}
	r := f.call(t, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": []any{
		third, second, refItem("1", g.ID, s.ana.ID), // 1 fails: already a member
	}})
	items := batchResponses(t, r)
	for id, want := range map[string]int{"1": 400, "2": 424, "3": 424} {
		if got := itemStatus(items[id]); got != want {
			t.Errorf("item %s status = %d, want %d", id, got, want)
		}
	}
	if got := f.ten.Members(g.ID); !slices.Equal(got, []string{s.ana.ID}) {
		t.Errorf("members = %v: dependents of a failed request must not run", got)
	}
}

func TestBatchItemWithBodyNeedsContentType(t *testing.T) {
	f := newFixture(t, "GroupMember.ReadWrite.All")
	s := seed(f.ten)
	g := f.ten.AddGroup(Group{DisplayName: "g"})
	item := refItem("1", g.ID, s.ana.ID)
	delete(item, "headers")
	items := batchResponses(t, f.call(t, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": []any{item}}))
	if got := itemStatus(items["1"]); got != 400 {
		t.Errorf("status = %d, want 400", got)
	}
	if len(f.ten.Members(g.ID)) != 0 {
		t.Error("the item ran")
	}
}

func TestBatchItemFaultsAndThrottling(t *testing.T) {
	t.Run("fault on items only", func(t *testing.T) {
		f := newFixture(t, "GroupMember.ReadWrite.All")
		s := seed(f.ten)
		g := f.ten.AddGroup(Group{DisplayName: "g"})
		f.ten.Inject(Fault{Path: "/groups/", Status: 429, RetryAfter: "3", Times: 1, InBatch: true})
		items := batchResponses(t, f.call(t, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": []any{
			refItem("1", g.ID, s.ana.ID), refItem("2", g.ID, s.bo.ID),
		}}))
		if itemStatus(items["1"]) != 429 || itemHeader(items["1"], "Retry-After") != "3" {
			t.Errorf("item 1 = %v, want 429 with Retry-After 3", items["1"])
		}
		body, _ := items["1"]["body"].(map[string]any)
		if e, _ := body["error"].(map[string]any); e["code"] != "TooManyRequests" || e["message"] != "Please retry again later." {
			t.Errorf("item 1 body = %v", body)
		}
		if itemStatus(items["2"]) != 204 {
			t.Errorf("item 2 = %v, want 204", items["2"])
		}
	})
	t.Run("fault on the envelope only", func(t *testing.T) {
		f := newFixture(t, "User.Read.All")
		f.ten.Inject(Fault{Path: "/$batch", Status: 503, Times: 1})
		req := map[string]any{"requests": []any{map[string]any{"id": "1", "method": "GET", "url": "/users"}}}
		wantError(t, f.call(t, http.MethodPost, "/v1.0/$batch", req), 503, "serviceNotAvailable")
		items := batchResponses(t, f.call(t, http.MethodPost, "/v1.0/$batch", req))
		if itemStatus(items["1"]) != 200 {
			t.Errorf("item = %v", items["1"])
		}
	})
	t.Run("each item is charged to the bucket", func(t *testing.T) {
		f := newClockFixture(t, "GroupMember.ReadWrite.All")
		var users []User
		for range 5 {
			users = append(users, f.ten.AddUser(User{AccountEnabled: true}))
		}
		g := f.ten.AddGroup(Group{DisplayName: "g"})
		f.ten.EnableThrottling(Throttle{UnitsPer10s: 100, WritesPer150s: 3})
		var reqs []any
		for i, u := range users {
			reqs = append(reqs, refItem(fmt.Sprint(i), g.ID, u.ID))
		}
		items := batchResponses(t, f.call(t, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": reqs}))
		throttled := 0
		for _, it := range items {
			if itemStatus(it) == 429 {
				throttled++
				if itemHeader(it, "Retry-After") == "" || itemHeader(it, "x-ms-throttle-information") != "WriteLimitExceeded" {
					t.Errorf("throttled item = %v", it)
				}
			}
		}
		if throttled != 2 || len(f.ten.Members(g.ID)) != 3 {
			t.Errorf("%d items throttled, %d members; want 2 and 3", throttled, len(f.ten.Members(g.ID)))
		}
	})
}
