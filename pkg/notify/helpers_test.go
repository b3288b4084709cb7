package notify_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/notify"
	"github.com/stintdev/stint/pkg/webhook"
)

// secret is the receiver's Standard Webhooks secret.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// openLedger opens a SQLite ledger at path, closed when the test ends.
func openLedger(tb testing.TB, path string) *sqlite.Ledger {
	tb.Helper()
	l, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// newOutbox is an outbox over a fresh SQLite ledger in a temporary file.
func newOutbox(tb testing.TB) *notify.Outbox {
	tb.Helper()
	return &notify.Outbox{Ledger: openLedger(tb, filepath.Join(tb.TempDir(), "stint.db"))}
}

// delivery is one request the receiver took.
type delivery struct {
	Header http.Header
	Body   []byte
	// Verified: the Standard Webhooks signature checked out.
	Verified bool
}

// receiver is a notification endpoint: it verifies each delivery's
// signature with pkg/webhook, keeps it, and answers from a script (the
// last status repeats; 200 when empty).
type receiver struct {
	*httptest.Server
	mu         sync.Mutex
	deliveries []delivery
	statuses   []int
	header     http.Header
}

func newReceiver(tb testing.TB, statuses ...int) *receiver {
	tb.Helper()
	v, err := webhook.ParseSecrets(secret)
	if err != nil {
		tb.Fatal(err)
	}
	r := &receiver{statuses: statuses, header: http.Header{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.deliveries = append(r.deliveries, delivery{Header: req.Header.Clone(), Body: body, Verified: v.Verify(body, req.Header) == nil})
		status := http.StatusOK
		if n := len(r.statuses); n > 0 {
			status = r.statuses[min(len(r.deliveries), n)-1]
		}
		for k, vs := range r.header {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		io.WriteString(w, http.StatusText(status))
	}))
	tb.Cleanup(r.Close)
	return r
}

// setHeader adds a header to the receiver's answers.
func (r *receiver) setHeader(k, v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.header.Set(k, v)
}

// got returns the deliveries so far.
func (r *receiver) got() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.deliveries...)
}

// perID counts the deliveries by webhook-id.
func (r *receiver) perID() map[string]int {
	n := map[string]int{}
	for _, d := range r.got() {
		n[d.Header.Get("webhook-id")]++
	}
	return n
}

// clock is a settable time, starting at the real now (signatures are
// checked against the real clock, ±5 minutes).
type clock struct{ t time.Time }

func newClock() *clock               { return &clock{t: time.Now().Truncate(time.Second)} }
func (c *clock) Now() time.Time      { return c.t }
func (c *clock) Add(d time.Duration) { c.t = c.t.Add(d) }

// sender sends to url in format, on clock c, logging into log.
func sender(url, format string, c *clock, log *bytes.Buffer) *notify.Sender {
	return &notify.Sender{
		Notify: config.Notify{URL: url, Format: format, Secret: secret},
		Now:    c.Now,
		Log:    slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// reminder is a reminder notification made at t.
func reminder(id string, t time.Time) notify.Notification {
	return notify.Notification{
		ID: id, Type: notify.EngagementReminder, Subject: "alice@vendor.example", Time: t,
		Data: notify.Data{Contractor: "alice@vendor.example", Engagement: "ENG-1", Sponsor: "bob@corp.example", EndsAt: t.Add(14 * 24 * time.Hour)},
	}
}

// add adds ns to o, failing the test on error.
func add(tb testing.TB, o *notify.Outbox, ns ...notify.Notification) int {
	tb.Helper()
	n, err := o.Add(context.Background(), ns...)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// list lists o, failing the test on error.
func list(tb testing.TB, o *notify.Outbox) []notify.Entry {
	tb.Helper()
	entries, err := o.List(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return entries
}

// flush flushes o, failing the test on error.
func flush(tb testing.TB, s *notify.Sender, o *notify.Outbox) (sent, failed int) {
	tb.Helper()
	sent, failed, err := s.Flush(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	return sent, failed
}

// only returns the outbox's single entry.
func only(tb testing.TB, o *notify.Outbox) notify.Entry {
	tb.Helper()
	entries := list(tb, o)
	if len(entries) != 1 {
		tb.Fatalf("the outbox holds %d entries, want 1: %+v", len(entries), entries)
	}
	return entries[0]
}
