package sandbox

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Handler returns the tenant's HTTP handler: the token service routes and
// Microsoft Graph v1.0 (under /v1.0) on one origin. Mount it at the root of
// a server; every URL it hands out is built from the scheme and Host of
// the request it answers.
func (t *Tenant) Handler() http.Handler { return http.HandlerFunc(t.serveHTTP) }

func (t *Tenant) serveHTTP(w http.ResponseWriter, r *http.Request) {
	first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if strings.EqualFold(first, "v1.0") {
		if s := t.persisting(r); s != nil {
			t.servePersisted(w, r, s)
			return
		}
		t.serveGraph(w, r)
		return
	}
	t.serveIdentity(w, r)
}

// Request is one journaled request.
type Request struct {
	// Method and Path as received; Path is the decoded path, e.g.
	// "/v1.0/groups/{gid}/members/$ref". For a $batch item, Path is
	// "/v1.0" followed by the item's url path.
	Method, Path string
	// Query is the raw query string.
	Query string
	// Status is the status answered; 0 when the connection was dropped.
	Status int
	// AppID is the client id: from the access token on Graph routes, from
	// the form on the token endpoint; empty when unknown.
	AppID string
	// InBatch marks an item of a $batch envelope. The envelope itself is
	// journaled too, with InBatch false.
	InBatch bool
	// RequestID is the request-id answered (Graph routes only).
	RequestID string
	// At is when the request arrived, by the tenant's clock.
	At time.Time
}

// Journal returns every request answered so far, in the order they
// finished (a $batch envelope follows its items).
func (t *Tenant) Journal() []Request {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Request(nil), t.journal...)
}

// ResetJournal forgets the requests journaled so far.
func (t *Tenant) ResetJournal() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.journal = nil
}

// GraphRequests returns the journal entries under /v1.0 that went over the
// wire: $batch envelopes and direct calls, not the items inside envelopes.
func (t *Tenant) GraphRequests() []Request {
	var out []Request
	for _, r := range t.Journal() {
		if !r.InBatch && (r.Path == "/v1.0" || strings.HasPrefix(strings.ToLower(r.Path), "/v1.0/")) {
			out = append(out, r)
		}
	}
	return out
}

func (t *Tenant) record(r Request) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.journal = append(t.journal, r)
}

// maxBody bounds request bodies; Graph's own limit is 4 MB.
const maxBody = 4 << 20

var errBadGzip = errors.New("body labelled gzip is not gzip")

// readBody reads a request body, gunzipping it when Content-Encoding says
// gzip (the Graph SDK compresses every request body by default).
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxBody {
		return nil, errors.New("request body too large")
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if enc == "" || enc == "identity" {
		return raw, nil
	}
	if enc != "gzip" && enc != "x-gzip" {
		return nil, errBadGzip
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, errBadGzip
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxBody+1))
	if err != nil || len(out) > maxBody {
		return nil, errBadGzip
	}
	return out, nil
}

// baseURL is the origin the client used to reach this server.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// sameOrigin reports whether u names the origin base, allowing a trailing
// slash and differences in case.
func sameOrigin(u, base string) bool {
	return strings.EqualFold(strings.TrimSuffix(u, "/"), strings.TrimSuffix(base, "/"))
}

// mustJSON marshals values the sandbox builds itself.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sandbox: marshal response: " + err.Error())
	}
	return b
}

// statusWriter calls onStatus once, with the status, just before the
// answer starts to go out.
type statusWriter struct {
	http.ResponseWriter
	once     sync.Once
	onStatus func(int)
}

func (s *statusWriter) WriteHeader(code int) {
	s.once.Do(func() { s.onStatus(code) })
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.once.Do(func() { s.onStatus(http.StatusOK) })
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// sleep waits for d or until done is closed.
func sleep(done <-chan struct{}, d time.Duration) {
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-done:
	}
}
