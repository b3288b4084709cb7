package sandbox

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func inviteBody(email string) map[string]any {
	return map[string]any{"invitedUserEmailAddress": email, "inviteRedirectUrl": "https://myapps.microsoft.com"}
}

func TestFaultStatusThenSuccess(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		code       string
		retryAfter string
	}{
		{"429 with a fractional Retry-After", Fault{Path: "/invitations", Status: 429, RetryAfter: "2.128", Times: 1}, "TooManyRequests", "2.128"},
		{"503", Fault{Method: "POST", Path: "/INVITATIONS", Status: 503, RetryAfter: "1", Times: 1}, "serviceNotAvailable", "1"},
		{"504 without Retry-After", Fault{Status: 504, Times: 1}, "UnknownError", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "User.Invite.All")
			f.ten.Inject(tt.fault)
			r := f.call(t, http.MethodPost, "/v1.0/invitations", inviteBody("e@x.example"))
			wantError(t, r, tt.fault.Status, tt.code)
			if got := r.header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if len(f.ten.Invitations()) != 0 {
				t.Error("the faulted request ran")
			}
			wantStatus(t, f.call(t, http.MethodPost, "/v1.0/invitations", inviteBody("e@x.example")), http.StatusCreated)
		})
	}
	t.Run("429 body is the throttling body", func(t *testing.T) {
		f := newFixture(t, "User.Read.All")
		f.ten.Inject(Fault{Status: 429, Times: 1})
		r := f.call(t, http.MethodGet, "/v1.0/users", nil)
		if got := errorBodyWithoutIDs(t, r); got != "TooManyRequests: Please retry again later." {
			t.Errorf("body = %q", got)
		}
	})
}

func TestFaultMatching(t *testing.T) {
	f := newFixture(t, "User.Read.All", "User.Invite.All")
	f.ten.Inject(Fault{Method: "GET", Path: "/groups/", Status: 500})
	f.ten.Inject(Fault{Method: "POST", Path: "/users", Status: 503, Times: 2})

	wantStatus(t, f.call(t, http.MethodGet, "/v1.0/users", nil), http.StatusOK) // POST fault, GET request
	wantError(t, f.call(t, http.MethodGet, "/v1.0/groups/"+newGUID(), nil), 500, "generalException")
	wantError(t, f.call(t, http.MethodGet, "/v1.0/groups/"+newGUID(), nil), 500, "generalException") // Times 0: until cleared
	for i := range 2 {
		if r := f.call(t, http.MethodPost, "/v1.0/users/x/revokeSignInSessions", nil); r.status != 503 {
			t.Errorf("hit %d: status %d, want 503", i+1, r.status)
		}
	}
	if r := f.call(t, http.MethodPost, "/v1.0/users/x/revokeSignInSessions", nil); r.status == 503 {
		t.Error("a Times:2 fault hit a third time")
	}
	f.ten.ClearFaults()
	wantError(t, f.call(t, http.MethodGet, "/v1.0/groups/"+newGUID(), nil), 403, "Authorization_RequestDenied")
}

func TestFaultLatency(t *testing.T) {
	f := newFixture(t, "User.Read.All")
	f.ten.Inject(Fault{Path: "/users", Latency: 150 * time.Millisecond, Times: 1})
	start := time.Now()
	wantStatus(t, f.call(t, http.MethodGet, "/v1.0/users", nil), http.StatusOK)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answered in %v, want at least 150ms", d)
	}
	f.ten.SetLatency(100 * time.Millisecond)
	start = time.Now()
	wantStatus(t, f.call(t, http.MethodGet, "/v1.0/users", nil), http.StatusOK)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("answered in %v with SetLatency(100ms)", d)
	}
}

func TestFaultDrop(t *testing.T) {
	f := newFixture(t, "User.Invite.All")
	f.ten.Inject(Fault{Path: "/invitations", Drop: true, Times: 1})
	// A POST: Go's transport silently retries an idempotent request whose
	// reused connection closes before answering.
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/v1.0/invitations", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+f.token)
	res, err := f.client.Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("got status %d, want a connection error", res.StatusCode)
	}
	wantStatus(t, f.call(t, http.MethodPost, "/v1.0/invitations", inviteBody("e@x.example")), http.StatusCreated)
	j := f.ten.GraphRequests()
	if len(j) != 2 || j[0].Status != 0 || j[1].Status != 201 {
		t.Errorf("journal = %+v, want the dropped request with status 0, then a 201", j)
	}
}

func TestJournal(t *testing.T) {
	f := newFixture(t, "User.Read.All")
	s := seed(f.ten)
	tokens := 0
	for _, e := range f.ten.Journal() {
		if strings.HasSuffix(e.Path, "/oauth2/v2.0/token") && e.AppID == testAppID && e.Status == 200 {
			tokens++
		}
	}
	if tokens != 1 {
		t.Errorf("%d token requests journaled, want 1", tokens)
	}
	f.ten.ResetJournal()
	f.call(t, http.MethodGet, "/v1.0/users/"+s.ana.ID+"?$select=id", nil)
	f.call(t, http.MethodGet, "/v1.0/users/"+newGUID(), nil)
	j := f.ten.GraphRequests()
	if len(j) != 2 {
		t.Fatalf("%d requests, want 2: %+v", len(j), j)
	}
	e := j[0]
	if e.Method != "GET" || e.Path != "/v1.0/users/"+s.ana.ID || e.Query != "$select=id" || e.Status != 200 ||
		e.AppID != testAppID || e.InBatch || e.RequestID == "" || e.At.IsZero() {
		t.Errorf("entry = %+v", e)
	}
	if j[1].Status != 404 {
		t.Errorf("second entry status = %d, want 404", j[1].Status)
	}
}
