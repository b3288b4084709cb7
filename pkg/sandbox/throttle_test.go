package sandbox

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestThrottlingBurst(t *testing.T) {
	f := newClockFixture(t, "User.Read.All")
	f.ten.EnableThrottling(Throttle{UnitsPer10s: 20})
	// GET /users costs 2: ten fit in the bucket, the eleventh does not.
	for i := range 10 {
		r := f.call(t, http.MethodGet, "/v1.0/users", nil)
		wantStatus(t, r, http.StatusOK)
		if got := r.header.Get("x-ms-resource-unit"); got != "2" {
			t.Errorf("request %d: x-ms-resource-unit = %q, want 2", i+1, got)
		}
		pct := r.header.Get("x-ms-throttle-limit-percentage")
		if (i >= 8) != (pct != "") {
			t.Errorf("request %d: x-ms-throttle-limit-percentage = %q", i+1, pct)
		}
	}
	f.clock.Advance(300 * time.Millisecond) // refills 0.6 units
	r := f.call(t, http.MethodGet, "/v1.0/users", nil)
	wantError(t, r, http.StatusTooManyRequests, "TooManyRequests")
	if got := errorBodyWithoutIDs(t, r); got != "TooManyRequests: Please retry again later." {
		t.Errorf("body = %q", got)
	}
	ra := r.header.Get("Retry-After")
	if ra != "0.7" {
		t.Errorf("Retry-After = %q, want 0.7 (1.4 units at 2 units/s)", ra)
	}
	if got, want := r.header.Get("x-ms-throttle-scope"), "Tenant_Application/ReadWrite/"+testAppID+"/"+f.ten.TenantID(); got != want {
		t.Errorf("x-ms-throttle-scope = %q, want %q", got, want)
	}
	if got := r.header.Get("x-ms-throttle-information"); got != "ResourceUnitLimitExceeded" {
		t.Errorf("x-ms-throttle-information = %q", got)
	}
	secs, _ := strconv.ParseFloat(ra, 64)
	f.clock.Advance(time.Duration(secs * float64(time.Second)))
	wantStatus(t, f.call(t, http.MethodGet, "/v1.0/users", nil), http.StatusOK)
	wantError(t, f.call(t, http.MethodGet, "/v1.0/users", nil), http.StatusTooManyRequests, "TooManyRequests")

	f.ten.DisableThrottling()
	r = f.call(t, http.MethodGet, "/v1.0/users", nil)
	wantStatus(t, r, http.StatusOK)
	if r.header.Get("x-ms-resource-unit") != "" {
		t.Error("x-ms-resource-unit sent with throttling off")
	}
}

func TestThrottlingRealClock(t *testing.T) {
	f := newFixture(t, "User.Read.All")
	f.ten.EnableThrottling(Throttle{UnitsPer10s: 40}) // 4 units/s
	var r resp
	for range 25 {
		if r = f.call(t, http.MethodGet, "/v1.0/users", nil); r.status == http.StatusTooManyRequests {
			break
		}
	}
	wantStatus(t, r, http.StatusTooManyRequests)
	secs, err := strconv.ParseFloat(r.header.Get("Retry-After"), 64)
	if err != nil || secs <= 0 || secs > 0.5 {
		t.Fatalf("Retry-After = %q, want a wait up to 0.5s", r.header.Get("Retry-After"))
	}
	time.Sleep(time.Duration(secs*float64(time.Second)) + 10*time.Millisecond)
	wantStatus(t, f.call(t, http.MethodGet, "/v1.0/users", nil), http.StatusOK)
}

func TestRequestCost(t *testing.T) {
	tests := []struct {
		method, path, query string
		cost                int
		write               bool
	}{
		{"GET", "/users", "", 2, false},
		{"GET", "/users", "$select=id", 1, false},
		{"GET", "/users", "$select=id&$top=5", 1, false},
		{"GET", "/users", "$expand=manager", 3, false},
		{"GET", "/users/abc", "", 1, false},
		{"GET", "/groups/g/members", "", 3, false},
		{"GET", "/groups/g/members/microsoft.graph.user", "$select=id&$top=999", 2, false},
		{"GET", "/groups/g", "", 1, false},
		{"POST", "/groups/g/members/$ref", "", 1, true},
		{"DELETE", "/groups/g/members/u/$ref", "", 1, true},
		{"PATCH", "/users/u", "", 1, true},
		{"POST", "/invitations", "", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+"?"+tt.query, func(t *testing.T) {
			cost, write := requestCost(&gcall{method: tt.method, path: tt.path, rawQuery: tt.query})
			if cost != tt.cost || write != tt.write {
				t.Errorf("cost, write = %d, %v; want %d, %v", cost, write, tt.cost, tt.write)
			}
		})
	}
}

func TestWriteLimit(t *testing.T) {
	f := newClockFixture(t, "User.EnableDisableAccount.All")
	s := seed(f.ten)
	f.ten.EnableThrottling(Throttle{WritesPer150s: 2})
	for range 2 {
		wantStatus(t, f.call(t, http.MethodPatch, "/v1.0/users/"+s.ana.ID, `{"accountEnabled":false}`), http.StatusNoContent)
	}
	r := f.call(t, http.MethodPatch, "/v1.0/users/"+s.ana.ID, `{"accountEnabled":false}`)
	wantError(t, r, http.StatusTooManyRequests, "TooManyRequests")
	if r.header.Get("Retry-After") != "75" || r.header.Get("x-ms-throttle-information") != "WriteLimitExceeded" ||
		!strings.HasPrefix(r.header.Get("x-ms-throttle-scope"), "Tenant_Application/Write/") {
		t.Errorf("headers = %v", r.header)
	}
}

// An app at its write ceiling waits for the refill; a members@odata.bind
// PATCH is one write whatever the number of members, a $batch is charged
// item by item, and what was charged and refused is counted per app.
func TestWritesSpentAndUsage(t *testing.T) {
	f := newClockFixture(t, "User.Read.All", "GroupMember.ReadWrite.All")
	g := f.ten.AddGroup(Group{DisplayName: "Contractors"})
	var refs []string
	var users []User
	for range 3 {
		u := f.ten.AddUser(User{AccountEnabled: true})
		users = append(users, u)
		refs = append(refs, "https://graph.microsoft.com/v1.0/directoryObjects/"+u.ID)
	}
	if f.ten.ThrottleUsage() != nil {
		t.Error("usage reported with throttling off")
	}
	f.ten.EnableThrottling(Throttle{WritesSpent: 3000})
	bind := map[string]any{"members@odata.bind": refs}

	r := f.call(t, http.MethodPatch, "/v1.0/groups/"+g.ID, bind)
	wantError(t, r, http.StatusTooManyRequests, "TooManyRequests")
	if got := r.header.Get("Retry-After"); got != "0.05" || r.header.Get("x-ms-throttle-information") != "WriteLimitExceeded" {
		t.Errorf("Retry-After = %q, x-ms-throttle-information = %q; want 0.05 (one write at 20/s) and WriteLimitExceeded",
			got, r.header.Get("x-ms-throttle-information"))
	}
	f.clock.Advance(50 * time.Millisecond)
	wantStatus(t, f.call(t, http.MethodPatch, "/v1.0/groups/"+g.ID, bind), http.StatusNoContent)
	if got := len(f.ten.Members(g.ID)); got != 3 {
		t.Fatalf("%d members after the PATCH, want 3", got)
	}

	f.clock.Advance(50 * time.Millisecond)
	items := batchResponses(t, f.call(t, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "DELETE", "url": "/groups/" + g.ID + "/members/" + users[0].ID + "/$ref"},
		map[string]any{"id": "2", "method": "DELETE", "url": "/groups/" + g.ID + "/members/" + users[1].ID + "/$ref"},
	}}))
	if a, b := itemStatus(items["1"]), itemStatus(items["2"]); a+b != 204+429 {
		t.Errorf("item statuses %d and %d, want one 204 and one 429 (one write refilled)", a, b)
	}
	wantStatus(t, f.call(t, http.MethodGet, "/v1.0/users", nil), http.StatusOK)

	got := f.ten.ThrottleUsage()[testAppID]
	want := Usage{Writes: 2, Units: 1 + 1 + 2, Throttled: 2}
	if got != want {
		t.Errorf("ThrottleUsage = %+v, want %+v (the PATCH and one removal written; a PATCH and an item refused)", got, want)
	}
}
