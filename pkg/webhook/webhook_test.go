package webhook_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/webhook"
)

var (
	secretA = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	secretB = "whsec_" + base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
)

// fakeQueue records what it is given; EnqueueFunc may fail it.
type fakeQueue struct {
	got         []engagement.Message
	EnqueueFunc func(m engagement.Message) error
}

var _ engagement.Queue = (*fakeQueue)(nil)

func (q *fakeQueue) Enqueue(_ context.Context, m engagement.Message) error {
	if q.EnqueueFunc != nil {
		if err := q.EnqueueFunc(m); err != nil {
			return err
		}
	}
	q.got = append(q.got, m)
	return nil
}

// keyedQueue is a fake with the queues' contract for a message id already
// taken: the same body again is a no-op (nil), another body is refused
// with fault.Conflict.
func keyedQueue() *fakeQueue {
	bodies := map[string][]byte{}
	q := &fakeQueue{}
	q.EnqueueFunc = func(m engagement.Message) error {
		if b, ok := bodies[m.ID]; ok && !bytes.Equal(b, m.Body) {
			return fault.Errorf(fault.Conflict, "fake queue: message %s holds another body", m.ID)
		}
		bodies[m.ID] = m.Body
		return nil
	}
	return q
}

func sample(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile("../../events/samples/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func signed(tb testing.TB, secret string, at time.Time, body []byte) map[string]string {
	tb.Helper()
	h, err := webhook.Sign(secret, "msg_2Lx1", at, body)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{"content-type": "application/json"}
	for k := range h {
		out[strings.ToLower(k)] = h.Get(k)
	}
	return out
}

// clock is the handler's now in the tests, an hour after the time of
// valid/started-future.json: the samples' times are fixed, the wall clock
// is not. (Signatures are still checked against the wall clock: the
// Standard Webhooks library reads it itself.)
var clock = time.Date(2026, 11, 22, 10, 15, 0, 0, time.UTC)

func newHandler(tb testing.TB, q *fakeQueue, logs *bytes.Buffer) *webhook.Handler {
	tb.Helper()
	v, err := webhook.ParseSecrets(secretA + " " + secretB)
	if err != nil {
		tb.Fatal(err)
	}
	return &webhook.Handler{Verifier: v, Queue: q, AccessKeys: []string{"contractor-access", "finance-apps"}, Log: slog.New(slog.NewJSONHandler(logs, nil)),
		Now: func() time.Time { return clock }}
}

func TestWebhook(t *testing.T) {
	now := time.Now()
	started := sample(t, "valid/started-future.json")
	tests := []struct {
		name       string
		body       []byte
		headers    map[string]string
		base64     bool
		clock      time.Time // the handler's now, when not clock
		queueErr   error
		wantStatus int
		wantInBody string
		enqueued   bool
		observed   string // what Observe was told: result and reason
	}{
		{name: "a signed valid event is accepted", body: started, headers: signed(t, secretA, now, started), wantStatus: 202, wantInBody: `"id":"01JD7A1B2C3D4E5F6G7H8J9K0M"`, enqueued: true, observed: "accepted"},
		{name: "the second secret of a rotation is accepted", body: started, headers: signed(t, secretB, now, started), wantStatus: 202, enqueued: true, observed: "accepted"},
		{name: "a base64 body from the Function URL", body: started, headers: signed(t, secretA, now, started), base64: true, wantStatus: 202, enqueued: true, observed: "accepted"},
		{name: "a signature by another secret", body: started, headers: signed(t, "whsec_"+base64.StdEncoding.EncodeToString([]byte("another-secret-of-32-bytes-long!")), now, started), wantStatus: 401, wantInBody: "no signature matches", observed: "refused unauthorized"},
		{name: "a body changed after signing", body: bytes.Replace(started, []byte("Bo Chen"), []byte("Mallory"), 1), headers: signed(t, secretA, now, started), wantStatus: 401, wantInBody: "no signature matches", observed: "refused unauthorized"},
		{name: "a stale timestamp", body: started, headers: signed(t, secretA, now.Add(-6*time.Minute), started), wantStatus: 401, wantInBody: "more than 5 minutes", observed: "refused unauthorized"},
		{name: "a timestamp from the future", body: started, headers: signed(t, secretA, now.Add(6*time.Minute), started), wantStatus: 401, wantInBody: "more than 5 minutes", observed: "refused unauthorized"},
		{name: "no signature headers", body: started, headers: map[string]string{}, wantStatus: 401, wantInBody: "headers are required", observed: "refused unauthorized"},
		{name: "an invalid event", body: sample(t, "invalid/started-without-endsAt.json"), headers: signed(t, secretA, now, sample(t, "invalid/started-without-endsAt.json")), wantStatus: 400, wantInBody: `"pointer":"/data/endsAt"`, observed: "refused invalid"},
		{name: "an unconfigured access key", body: sample(t, "valid/extended.json"), headers: signed(t, secretA, now, sample(t, "valid/extended.json")), clock: time.Date(2027, 2, 20, 12, 30, 0, 0, time.UTC), wantStatus: 400, wantInBody: `"pointer":"/data/access/1"`, observed: "refused unknown_access"},
		{name: "an event time more than 5 minutes ahead of the clock", body: started, headers: signed(t, secretA, now, started), clock: time.Date(2026, 11, 22, 9, 8, 30, 0, time.UTC), wantStatus: 400,
			wantInBody: `"pointer":"/time","reason":"2026-11-22T10:15:00+01:00 is 6m30s ahead of this server's clock (2026-11-22T09:08:30Z); the limit is 5m0s: fix the sender's clock"`, observed: "refused time_ahead"},
		{name: "an event time 5 minutes ahead is within the limit", body: started, headers: signed(t, secretA, now, started), clock: time.Date(2026, 11, 22, 9, 10, 0, 0, time.UTC), wantStatus: 202, enqueued: true, observed: "accepted"},
		{name: "a body over 64 KiB", body: bytes.Repeat([]byte(" "), 64<<10+1), headers: map[string]string{}, wantStatus: 413, observed: "refused too_large"},
		{name: "the queue is down", body: started, headers: signed(t, secretA, now, started), queueErr: errors.New("sqs: connection refused"), wantStatus: 503, observed: "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeQueue{}
			if tt.queueErr != nil {
				q.EnqueueFunc = func(engagement.Message) error { return tt.queueErr }
			}
			var logs bytes.Buffer
			h := newHandler(t, q, &logs)
			var observed []string
			h.Observe = func(result, reason string) { observed = append(observed, strings.TrimSpace(result+" "+reason)) }
			if !tt.clock.IsZero() {
				h.Now = func() time.Time { return tt.clock }
			}
			req := events.LambdaFunctionURLRequest{Headers: tt.headers, Body: string(tt.body)}
			if tt.base64 {
				req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(tt.body), true
			}
			resp, err := h.Handle(context.Background(), req)
			if err != nil {
				t.Fatalf("Handle returned an error: %v", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, resp.Body)
			}
			if !strings.Contains(resp.Body, tt.wantInBody) {
				t.Errorf("body = %s, want it to contain %s", resp.Body, tt.wantInBody)
			}
			if tt.wantStatus != 202 {
				if ct := resp.Headers["Content-Type"]; ct != "application/problem+json" {
					t.Errorf("Content-Type = %q, want application/problem+json", ct)
				}
				var p map[string]any
				if err := json.Unmarshal([]byte(resp.Body), &p); err != nil || p["status"] != float64(tt.wantStatus) || p["title"] == "" {
					t.Errorf("problem body %s: want status and title", resp.Body)
				}
			}
			if want := []string{tt.observed}; !slices.Equal(observed, want) {
				t.Errorf("Observe was told %q, want %q", observed, want)
			}
			if got := len(q.got) == 1; got != tt.enqueued {
				t.Fatalf("enqueued %d messages, want enqueued=%v", len(q.got), tt.enqueued)
			}
			if tt.enqueued {
				if m := q.got[0]; m.ID != "hr/workday 01JD7A1B2C3D4E5F6G7H8J9K0M" || m.Group != "bo.chen@vendor.example" || !bytes.Equal(m.Body, tt.body) {
					t.Errorf("message = %s/%s, want the event's source and id, grouped by the lower-cased email, body intact", m.ID, m.Group)
				}
			}
			for _, secret := range []string{secretA, secretB, strings.TrimPrefix(secretA, "whsec_"), tt.headers["webhook-signature"]} {
				if secret != "" && strings.Contains(logs.String()+resp.Body, secret) {
					t.Errorf("a secret or signature reached the log or the answer")
				}
			}
		})
	}
}

func TestParseSecrets(t *testing.T) {
	tests := []struct {
		value, want string
	}{
		{"", "STINT_WEBHOOK_SECRET is not set"},
		{"not-a-secret", "secret 1 of 1 is not whsec_"},
		{secretA + " whsec_!!!", "secret 2 of 2 is not whsec_"},
		{"whsec_" + base64.StdEncoding.EncodeToString([]byte("short")), "at least 24 bytes"},
	}
	for _, tt := range tests {
		_, err := webhook.ParseSecrets(tt.value)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSecrets(%q) = %v, want %q", tt.value, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "whsec_!!!") {
			t.Errorf("the error repeats the secret")
		}
	}
}

func TestServeHTTP(t *testing.T) {
	q := &fakeQueue{}
	var logs bytes.Buffer
	h := newHandler(t, q, &logs)
	body := sample(t, "valid/started.json")
	req, _ := http.NewRequest(http.MethodPost, "/events", bytes.NewReader(body))
	for k, v := range signed(t, secretA, time.Now(), body) {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 202 || len(q.got) != 1 {
		t.Errorf("POST = %d with %d enqueued, want 202 and 1", rec.Code, len(q.got))
	}
	get, _ := http.NewRequest(http.MethodGet, "/events", nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, get)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET = %d, want 405", rec.Code)
	}
}

// TestUnauthenticatedRequestsLogBriefly: before the signature is checked,
// nothing the sender sends may grow the log beyond a capped id.
func TestUnauthenticatedRequestsLogBriefly(t *testing.T) {
	var logs bytes.Buffer
	h := newHandler(t, &fakeQueue{}, &logs)
	body := sample(t, "valid/started.json")
	headers := signed(t, secretA, time.Now(), body)
	headers["webhook-id"] = strings.Repeat("A", 900<<10)
	headers["webhook-signature"] = "v1," + strings.Repeat("B", 43) + "="
	for range 5 {
		resp, err := h.Handle(context.Background(), events.LambdaFunctionURLRequest{Headers: headers, Body: string(body)})
		if err != nil || resp.StatusCode != 401 {
			t.Fatalf("Handle = %d, %v; want 401", resp.StatusCode, err)
		}
	}
	if got, limit := logs.Len(), 4<<10; got > limit {
		t.Errorf("five 401s with a 900 KB webhook-id logged %d bytes, want at most %d", got, limit)
	}
	if got := strings.Count(logs.String(), "\n"); got != 5 {
		t.Errorf("five 401s logged %d lines, want 5", got)
	}
}

// TestLoggedWebhookIDIsCapped: the webhook-id reaches the log at most 64
// characters long, non-printable characters escaped, a cut marked.
func TestLoggedWebhookIDIsCapped(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name, id, want string
	}{
		{"an ordinary id is logged as it is", "msg_2Lx1", "msg_2Lx1"},
		{"a long id is cut at 64 characters, with its length", long, strings.Repeat("x", 64) + "…(cut, 100 bytes)"},
		{"a terminal escape is escaped", "id\x1b[31mred", `id\x1b[31mred`},
		{"a line break is escaped", "a\nb\u2028c", `a\nb\u2028c`},
		{"invalid UTF-8 is escaped", "a\xffb", `a\xffb`},
		{"a backslash is escaped, so an escape cannot be forged", `a\x00`, `a\\x00`},
		{"escapes count toward the cap", strings.Repeat("\x00", 40), strings.Repeat(`\x00`, 16) + "…(cut, 40 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := newHandler(t, &fakeQueue{}, &logs)
			h.Handle(context.Background(), events.LambdaFunctionURLRequest{Headers: map[string]string{"webhook-id": tt.id}, Body: "{}"})
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log %q: %v", logs.String(), err)
			}
			if got := line["webhook_id"]; got != tt.want {
				t.Errorf("webhook_id = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestReusedEventID: an event is known by its source and id together. The
// same event again is an idempotent 202; the same id with another body is
// refused with 409, and the same id from another source is another event.
func TestReusedEventID(t *testing.T) {
	started := sample(t, "valid/started-future.json")
	changed := bytes.Replace(started, []byte("Bo Chen"), []byte("Bo Chen-Li"), 1)
	otherSource := bytes.Replace(started, []byte(`"hr/workday"`), []byte(`"hr/vms"`), 1)
	q := keyedQueue()
	var logs bytes.Buffer
	h := newHandler(t, q, &logs)
	steps := []struct {
		name       string
		body       []byte
		wantStatus int
		wantInBody string
	}{
		{"the first delivery is accepted", started, 202, `"status":"accepted"`},
		{"the same event again is accepted", started, 202, `"status":"accepted"`},
		{"the same id with another body is refused", changed, 409,
			`"detail":"event id \"01JD7A1B2C3D4E5F6G7H8J9K0M\" from source \"hr/workday\" was already accepted with another body; the same id with a different body is refused: send a new id for a new event"`},
		{"the same id from another source is accepted", otherSource, 202, `"status":"accepted"`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			resp, err := h.Handle(context.Background(), events.LambdaFunctionURLRequest{Headers: signed(t, secretA, time.Now(), s.body), Body: string(s.body)})
			if err != nil {
				t.Fatalf("Handle returned an error: %v", err)
			}
			if resp.StatusCode != s.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, s.wantStatus, resp.Body)
			}
			if !strings.Contains(resp.Body, s.wantInBody) {
				t.Errorf("body = %s, want it to contain %s", resp.Body, s.wantInBody)
			}
			if s.wantStatus != 409 {
				return
			}
			var p map[string]any
			if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
				t.Fatalf("problem body %s: %v", resp.Body, err)
			}
			if ct := resp.Headers["Content-Type"]; ct != "application/problem+json" || p["title"] != "Event id reused" || p["pointer"] != "/id" || p["status"] != float64(409) {
				t.Errorf("answer %s %s, want application/problem+json, title \"Event id reused\", pointer /id, status 409", ct, resp.Body)
			}
		})
	}
	var ids []string
	for _, m := range q.got {
		ids = append(ids, m.ID)
	}
	if want := []string{"hr/workday 01JD7A1B2C3D4E5F6G7H8J9K0M", "hr/workday 01JD7A1B2C3D4E5F6G7H8J9K0M", "hr/vms 01JD7A1B2C3D4E5F6G7H8J9K0M"}; !slices.Equal(ids, want) {
		t.Errorf("enqueued ids = %q, want %q", ids, want)
	}
}

// puttingQueue is keyedQueue that says whether a message was new
// (webhook.Putter), counting the calls of each kind.
type puttingQueue struct {
	*fakeQueue
	puts, enqueues int
}

func (q *puttingQueue) Put(ctx context.Context, m engagement.Message) (bool, error) {
	q.puts++
	seen := slices.ContainsFunc(q.got, func(got engagement.Message) bool { return got.ID == m.ID && got.Digest == m.Digest })
	err := q.fakeQueue.Enqueue(ctx, m)
	return err == nil && !seen, err
}

func (q *puttingQueue) Enqueue(ctx context.Context, m engagement.Message) error {
	q.enqueues++
	return q.fakeQueue.Enqueue(ctx, m)
}

// A queue that says whether a message was new lets Observe tell a
// duplicate from a new event, in the one call that queues it: no second
// question to the queue per delivery.
func TestObserveTellsADuplicate(t *testing.T) {
	started := sample(t, "valid/started-future.json")
	changed := bytes.Replace(started, []byte("Bo Chen"), []byte("Bo Chen-Li"), 1)
	q := &puttingQueue{fakeQueue: keyedQueue()}
	var logs bytes.Buffer
	h := newHandler(t, q.fakeQueue, &logs)
	h.Queue = q
	var observed []string
	h.Observe = func(result, reason string) { observed = append(observed, strings.TrimSpace(result+" "+reason)) }
	for _, body := range [][]byte{started, started, changed} {
		if _, err := h.Handle(context.Background(), events.LambdaFunctionURLRequest{Headers: signed(t, secretA, time.Now(), body), Body: string(body)}); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"accepted", "duplicate", "refused id_reused"}; !slices.Equal(observed, want) {
		t.Errorf("Observe was told %q, want %q", observed, want)
	}
	if q.puts != 3 || q.enqueues != 0 {
		t.Errorf("the queue was called %d times with Put and %d with Enqueue for 3 deliveries, want Put once each", q.puts, q.enqueues)
	}
}
