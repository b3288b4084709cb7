package sandbox

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testAppID  = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	testSecret = "sandbox-secret-value~1"
)

// fixture is a tenant served over HTTPS, with one app that can get tokens.
type fixture struct {
	ten    *Tenant
	srv    *Server
	client *http.Client
	token  string
	clock  *fakeClock // nil unless the fixture was built with one
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newFixture starts a tenant whose app holds perms and fetches a token.
func newFixture(tb testing.TB, perms ...string) *fixture {
	tb.Helper()
	return startFixture(tb, Options{}, nil, perms...)
}

// newClockFixture is newFixture with a fake clock.
func newClockFixture(tb testing.TB, perms ...string) *fixture {
	tb.Helper()
	clock := &fakeClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	return startFixture(tb, Options{Now: clock.Now}, clock, perms...)
}

func startFixture(tb testing.TB, opts Options, clock *fakeClock, perms ...string) *fixture {
	tb.Helper()
	ten := New(opts)
	ten.AddApp(App{ClientID: testAppID, Secret: testSecret, Permissions: perms})
	srv, err := ten.StartTLS("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("StartTLS: %v", err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	f := &fixture{ten: ten, srv: srv, clock: clock, client: &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ten.CAPool()}},
	}}
	f.token = f.getToken(tb, testAppID, testSecret)
	return f
}

// getToken runs the client-credentials grant with a secret.
func (f *fixture) getToken(tb testing.TB, clientID, secret string) string {
	tb.Helper()
	r := f.postForm(tb, "/"+f.ten.TenantID()+"/oauth2/v2.0/token", url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {clientID},
		"client_secret": {secret},
		"scope":         {f.srv.URL + "/.default"},
	})
	if r.status != http.StatusOK {
		tb.Fatalf("token: status %d: %s", r.status, r.raw)
	}
	return r.str("access_token")
}

// resp is an answer read as raw JSON.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// get walks a dotted path ("error.innerError.date") through the body. A
// key that itself contains dots ("@odata.nextLink") is found as a whole.
func (r resp) get(path string) any {
	var v any = r.body
	for path != "" {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if whole, ok := m[path]; ok {
			return whole
		}
		k, rest, _ := strings.Cut(path, ".")
		v, path = m[k], rest
	}
	return v
}

func (r resp) str(path string) string {
	s, _ := r.get(path).(string)
	return s
}

func (r resp) list(path string) []any {
	l, _ := r.get(path).([]any)
	return l
}

func (f *fixture) do(tb testing.TB, req *http.Request) resp {
	tb.Helper()
	res, err := f.client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			tb.Fatalf("%s %s: body is not a JSON object: %v: %s", req.Method, req.URL, err, raw)
		}
	}
	return r
}

func (f *fixture) postForm(tb testing.TB, path string, form url.Values) resp {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.do(tb, req)
}

// call sends a Graph request with the fixture's token. path is the full
// path ("/v1.0/users"); body is marshalled unless it is a string or
// []byte; headers come in name, value pairs.
func (f *fixture) call(tb testing.TB, method, path string, body any, headers ...string) resp {
	tb.Helper()
	return f.callWith(tb, f.token, method, path, body, headers...)
}

func (f *fixture) callWith(tb testing.TB, token, method, path string, body any, headers ...string) resp {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = f.srv.URL + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return f.do(tb, req)
}

// gzipped compresses b.
func gzipped(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// wantStatus fails the test unless r has the status.
func wantStatus(tb testing.TB, r resp, want int) {
	tb.Helper()
	if r.status != want {
		tb.Fatalf("status = %d, want %d; body: %s", r.status, want, r.raw)
	}
}

// wantError checks a Graph error answer: status, code, and the innerError
// every Graph error carries.
func wantError(tb testing.TB, r resp, status int, code string) {
	tb.Helper()
	wantStatus(tb, r, status)
	if got := r.str("error.code"); got != code {
		tb.Errorf("error.code = %q, want %q; body: %s", got, code, r.raw)
	}
	if r.str("error.message") == "" {
		tb.Errorf("error.message is empty; body: %s", r.raw)
	}
	for _, k := range []string{"date", "request-id", "client-request-id"} {
		if r.str("error.innerError."+k) == "" {
			tb.Errorf("error.innerError.%s is missing; body: %s", k, r.raw)
		}
	}
}

// userRef is the @odata.id of a user, as the SDK writes it.
func userRef(id string) map[string]string {
	return map[string]string{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + id}
}

// tokenFor registers another app holding perms and returns a token for it.
func (f *fixture) tokenFor(tb testing.TB, perms ...string) string {
	tb.Helper()
	id := newGUID()
	f.ten.AddApp(App{ClientID: id, Secret: "secret-" + id, Permissions: perms})
	return f.getToken(tb, id, "secret-"+id)
}

// seeded is a small directory for the user tests.
type seeded struct {
	ana, bo, pat, carl User
}

func seed(ten *Tenant) seeded {
	return seeded{
		ana:  ten.AddUser(User{DisplayName: "Ana Lima", Mail: "ana@contoso.com", AccountEnabled: true}),
		bo:   ten.AddUser(User{DisplayName: "Bo Berg", Mail: "bo@partner.example", OtherMails: []string{"bo.alt@partner.example"}, UserType: "Guest", ExternalUserState: "PendingAcceptance", AccountEnabled: true}),
		pat:  ten.AddUser(User{DisplayName: "Pat O'Neil", Mail: "o'neil@contoso.com", AccountEnabled: true}),
		carl: ten.AddUser(User{DisplayName: "Carl Dahl", Mail: "carl@contoso.com", OtherMails: []string{"carl@home.example"}, AccountEnabled: false}),
	}
}

// ids returns the "id" of each item of a collection answer.
func ids(r resp) []string {
	var out []string
	for _, v := range r.list("value") {
		if m, ok := v.(map[string]any); ok {
			id, _ := m["id"].(string)
			out = append(out, id)
		}
	}
	return out
}
