package sandbox

import (
	"net/http"
	"testing"
	"time"
)

func TestConditionalAccessThrottle(t *testing.T) {
	f := newClockFixture(t, caPerms...)
	other := f.tokenFor(t, caPerms...)
	// Off by default: a burst goes through.
	for range 3 {
		wantStatus(t, f.call(t, http.MethodGet, policiesPath, nil), http.StatusOK)
	}

	f.ten.EnableConditionalAccessThrottle(0) // the documented 1 per second
	id := f.createPolicy(t, mfaBody(newGUID()))
	r := f.call(t, http.MethodPost, policiesPath, mfaBody(newGUID()))
	wantError(t, r, http.StatusTooManyRequests, "TooManyRequests")
	if got := errorBodyWithoutIDs(t, r); got != "TooManyRequests: Please retry again later." {
		t.Errorf("body = %q", got)
	}
	if _, ok := r.header["Retry-After"]; ok {
		t.Errorf("Retry-After = %q, want none: this API's 429s carry none", r.header.Get("Retry-After"))
	}
	// The limit is per tenant: another app is throttled too, and so is a read.
	wantError(t, f.callWith(t, other, http.MethodGet, policiesPath+"/"+id, nil), http.StatusTooManyRequests, "TooManyRequests")

	f.clock.Advance(999 * time.Millisecond)
	wantError(t, f.call(t, http.MethodDelete, policiesPath+"/"+id, nil), http.StatusTooManyRequests, "TooManyRequests")
	f.clock.Advance(time.Millisecond)
	wantStatus(t, f.call(t, http.MethodDelete, policiesPath+"/"+id, nil), http.StatusNoContent)
	if n := len(f.ten.Policies()); n != 0 {
		t.Errorf("%d policies: a throttled create was stored", n)
	}

	// Items of a $batch count one by one.
	f.clock.Advance(time.Second)
	r = f.call(t, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "GET", "url": "/identity/conditionalAccess/policies"},
		{"id": "2", "method": "GET", "url": "/identity/conditionalAccess/policies"},
	}})
	wantStatus(t, r, http.StatusOK)
	statuses := map[float64]int{}
	for _, item := range r.list("responses") {
		statuses[item.(map[string]any)["status"].(float64)]++
	}
	if statuses[200] != 1 || statuses[429] != 1 {
		t.Errorf("batch item statuses = %v, want one 200 and one 429", statuses)
	}

	f.ten.DisableConditionalAccessThrottle()
	for range 3 {
		wantStatus(t, f.call(t, http.MethodGet, policiesPath, nil), http.StatusOK)
	}
}

func TestConditionalAccessThrottleRate(t *testing.T) {
	f := newClockFixture(t, caPerms...)
	f.ten.EnableConditionalAccessThrottle(3)
	for i := range 3 {
		if r := f.call(t, http.MethodGet, policiesPath, nil); r.status != http.StatusOK {
			t.Fatalf("request %d: %d, want 200 within 3 per second", i+1, r.status)
		}
	}
	wantStatus(t, f.call(t, http.MethodGet, policiesPath, nil), http.StatusTooManyRequests)
	f.clock.Advance(time.Second / 3)
	wantStatus(t, f.call(t, http.MethodGet, policiesPath, nil), http.StatusOK)
}

// Conditional Access has its own limit: its requests are not charged to
// the identity-and-access buckets, nor throttled by them.
func TestConditionalAccessIsNotChargedToIdentityBuckets(t *testing.T) {
	f := newClockFixture(t, append([]string{"User.Read.All"}, caPerms...)...)
	f.ten.EnableThrottling(Throttle{UnitsPer10s: 2})
	for range 5 {
		r := f.call(t, http.MethodGet, policiesPath, nil)
		wantStatus(t, r, http.StatusOK)
		if got := r.header.Get("x-ms-resource-unit"); got != "" {
			t.Errorf("x-ms-resource-unit = %q on a Conditional Access answer", got)
		}
	}
	wantStatus(t, f.call(t, http.MethodGet, "/v1.0/users", nil), http.StatusOK)
	wantStatus(t, f.call(t, http.MethodGet, "/v1.0/users", nil), http.StatusTooManyRequests)
	wantStatus(t, f.call(t, http.MethodGet, policiesPath, nil), http.StatusOK)
}
