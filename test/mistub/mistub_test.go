package mistub_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/test/mistub"
)

// ask sends the documented request by hand (a second client beside
// azidentity's), with header as X-IDENTITY-HEADER.
func ask(t *testing.T, s *mistub.Server, header string, q url.Values) (int, map[string]any) {
	t.Helper()
	env := map[string]string{}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if header == "" {
		header = env["IDENTITY_HEADER"]
	}
	req, _ := http.NewRequest(http.MethodGet, env["IDENTITY_ENDPOINT"]+"?"+q.Encode(), nil)
	req.Header.Set("X-IDENTITY-HEADER", header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, body
}

// The endpoint answers as the 2019-08-01 protocol says, and refuses a
// wrong header, an unknown identity and another API version.
func TestIdentityEndpointProtocol(t *testing.T) {
	s, err := mistub.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddIdentity("client-1", "principal-1")
	q := url.Values{"api-version": {mistub.APIVersion}, "resource": {"api://AzureADTokenExchange"}, "client_id": {"client-1"}}
	status, body := ask(t, s, "", q)
	if status != 200 || body["token_type"] != "Bearer" || body["client_id"] != "client-1" || body["resource"] != "api://AzureADTokenExchange" {
		t.Fatalf("answer = %d %v", status, body)
	}
	exp, err := strconv.ParseInt(body["expires_on"].(string), 10, 64)
	if err != nil || time.Until(time.Unix(exp, 0)) < 23*time.Hour {
		t.Errorf("expires_on = %v, want Unix seconds about a day ahead", body["expires_on"])
	}
	if tok, _ := body["access_token"].(string); strings.Count(tok, ".") != 2 {
		t.Errorf("access_token is not a JWT")
	}
	refusals := []struct {
		name   string
		header string
		q      url.Values
		status int
	}{
		{"wrong header", "not-the-header", q, 401},
		{"unknown identity", "", url.Values{"api-version": {mistub.APIVersion}, "resource": {"r"}, "client_id": {"client-2"}}, 400},
		{"no system-assigned identity", "", url.Values{"api-version": {mistub.APIVersion}, "resource": {"r"}}, 400},
		{"old API version", "", url.Values{"api-version": {"2017-09-01"}, "resource": {"r"}, "client_id": {"client-1"}}, 400},
		{"no resource", "", url.Values{"api-version": {mistub.APIVersion}, "client_id": {"client-1"}}, 400},
	}
	for _, r := range refusals {
		if status, body := ask(t, s, r.header, r.q); status != r.status || body["message"] == "" {
			t.Errorf("%s: answer = %d %v, want %d with a message", r.name, status, body, r.status)
		}
	}
	if s.Issued() != 1 {
		t.Errorf("Issued = %d, want 1", s.Issued())
	}
}
