package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/notify"
)

// A CloudEvents delivery is a structured-mode event, signed with Standard
// Webhooks (the receiver verifies it with pkg/webhook), its webhook-id the
// notification's id.
func TestCloudEventsDeliveryIsSignedStructuredEvent(t *testing.T) {
	o := newOutbox(t)
	rcv := newReceiver(t)
	c := newClock()
	var log bytes.Buffer
	n := reminder("reminder/ENG-1/14d", c.Now().Add(-time.Minute))
	add(t, o, n)

	if sent, failed := flush(t, sender(rcv.URL, config.NotifyCloudEvents, c, &log), o); sent != 1 || failed != 0 {
		t.Errorf("Flush = sent %d, failed %d; want 1, 0", sent, failed)
	}
	got := rcv.got()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	d := got[0]
	if !d.Verified {
		t.Error("the receiver could not verify the signature")
	}
	if id := d.Header.Get("webhook-id"); id != n.ID {
		t.Errorf("webhook-id = %q, want the notification id %q", id, n.ID)
	}
	if ct := d.Header.Get("Content-Type"); ct != "application/cloudevents+json" {
		t.Errorf("Content-Type = %q, want application/cloudevents+json", ct)
	}
	var ev map[string]any
	if err := json.Unmarshal(d.Body, &ev); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"specversion": "1.0", "id": n.ID, "source": "stint", "type": "dev.stint.engagement.reminder",
		"subject": "alice@vendor.example", "time": n.Time.UTC().Format(time.RFC3339Nano), "datacontenttype": "application/json",
	}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("event %s = %v, want %v", k, ev[k], v)
		}
	}
	data, _ := ev["data"].(map[string]any)
	if data["contractor"] != "alice@vendor.example" || data["engagement"] != "ENG-1" || data["sponsor"] != "bob@corp.example" || data["endsAt"] == nil {
		t.Errorf("event data = %v, want contractor, engagement, sponsor, endsAt", data)
	}
	e := only(t, o)
	if e.State != notify.Sent || e.Attempts != 1 || !e.SentAt.Equal(c.Now()) {
		t.Errorf("entry = %+v, want sent at %s after 1 attempt", e, c.Now())
	}
}

// 500s are retried after 1m, then 2m, each attempt with the same id,
// nothing before its time, and a success ends it.
func TestFailuresAreRetriedWithBackoffThenSent(t *testing.T) {
	o := newOutbox(t)
	rcv := newReceiver(t, 500, 500, 200)
	c := newClock()
	var log bytes.Buffer
	s := sender(rcv.URL, config.NotifyCloudEvents, c, &log)
	n := reminder("reminder/ENG-1/1d", c.Now())
	add(t, o, n)
	t0 := c.Now()

	steps := []struct {
		after        time.Duration // since t0
		sent, failed int
		state        notify.State
		next         time.Duration // since t0; 0 for none
	}{
		{0, 0, 1, notify.Retrying, time.Minute},
		{59 * time.Second, 0, 0, notify.Retrying, time.Minute}, // not due yet
		{time.Minute, 0, 1, notify.Retrying, 3 * time.Minute},
		{3 * time.Minute, 1, 0, notify.Sent, 0},
		{time.Hour, 0, 0, notify.Sent, 0}, // sent: never again
	}
	for i, st := range steps {
		c.t = t0.Add(st.after)
		sent, failed := flush(t, s, o)
		e := only(t, o)
		var next time.Duration
		if !e.NextAttempt.IsZero() {
			next = e.NextAttempt.Sub(t0)
		}
		if sent != st.sent || failed != st.failed || e.State != st.state || next != st.next {
			t.Errorf("step %d (t0+%s): sent %d, failed %d, state %s, next t0+%s; want %d, %d, %s, t0+%s",
				i, st.after, sent, failed, e.State, next, st.sent, st.failed, st.state, st.next)
		}
	}
	if got := rcv.perID(); len(got) != 1 || got[n.ID] != 3 {
		t.Errorf("deliveries per webhook-id = %v, want 3 of %s", got, n.ID)
	}
	for i, d := range rcv.got() {
		if !d.Verified {
			t.Errorf("delivery %d: signature not verified", i+1)
		}
	}
	if e := only(t, o); e.Attempts != 3 || e.LastError != "" {
		t.Errorf("entry = %+v, want 3 attempts and no error left", e)
	}
}

// The backoff doubles from a minute and stops at an hour.
func TestBackoff(t *testing.T) {
	tests := []struct {
		failed int
		want   time.Duration
	}{
		{1, time.Minute}, {2, 2 * time.Minute}, {3, 4 * time.Minute}, {6, 32 * time.Minute},
		{7, time.Hour}, {8, time.Hour}, {100, time.Hour},
	}
	for _, tt := range tests {
		if got := notify.Backoff(tt.failed); got != tt.want {
			t.Errorf("Backoff(%d) = %s, want %s", tt.failed, got, tt.want)
		}
	}
}

// A notification that keeps failing is given up after MaxAttempts, about
// a day after the first, with an error log line.
func TestGivesUpAfterADayOfFailures(t *testing.T) {
	o := newOutbox(t)
	rcv := newReceiver(t, 503)
	c := newClock()
	var log bytes.Buffer
	s := sender(rcv.URL, config.NotifyCloudEvents, c, &log)
	add(t, o, reminder("ghost/1", c.Now()))
	t0 := c.Now()
	for range 1000 {
		flush(t, s, o)
		e := only(t, o)
		if !e.State.Due() {
			break
		}
		c.t = e.NextAttempt
	}
	e := only(t, o)
	if e.State != notify.GivenUp || e.Attempts != notify.MaxAttempts {
		t.Fatalf("entry = %+v, want given up after %d attempts", e, notify.MaxAttempts)
	}
	if span := e.LastAttempt.Sub(t0); span < 23*time.Hour || span > 25*time.Hour {
		t.Errorf("the last attempt came %s after the first, want about 24h", span)
	}
	if len(rcv.got()) != notify.MaxAttempts {
		t.Errorf("%d deliveries, want %d", len(rcv.got()), notify.MaxAttempts)
	}
	if !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "given up after 30 attempts") {
		t.Errorf("log lacks the error line for the given-up notification:\n%s", log.String())
	}
}

// What each answer leads to: 2xx sent; 408, 429 and 5xx retried; 410 and
// other 4xx given up at once, never tried again, with a clear log line.
func TestAnswers(t *testing.T) {
	tests := []struct {
		status int
		want   notify.State
		reason string
	}{
		{200, notify.Sent, ""},
		{202, notify.Sent, ""},
		{204, notify.Sent, ""},
		{408, notify.Retrying, "408"},
		{429, notify.Retrying, "429"},
		{500, notify.Retrying, "500"},
		{503, notify.Retrying, "503"},
		{400, notify.GivenUp, "400 Bad Request"},
		{401, notify.GivenUp, "401"},
		{404, notify.GivenUp, "404"},
		{410, notify.GivenUp, "410 Gone: the receiver is gone"},
		{302, notify.GivenUp, "redirects are not followed"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			o := newOutbox(t)
			rcv := newReceiver(t, tt.status)
			rcv.setHeader("Location", "/elsewhere")
			c := newClock()
			var log bytes.Buffer
			s := sender(rcv.URL, config.NotifyCloudEvents, c, &log)
			add(t, o, reminder("n", c.Now()))
			flush(t, s, o)
			e := only(t, o)
			if e.State != tt.want || !strings.Contains(e.LastError, tt.reason) {
				t.Errorf("after %d: state %s, last error %q; want %s, %q", tt.status, e.State, e.LastError, tt.want, tt.reason)
			}
			if tt.want == notify.GivenUp {
				if !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "given up") {
					t.Errorf("log lacks the given-up error line:\n%s", log.String())
				}
				c.Add(48 * time.Hour)
				flush(t, s, o)
				if n := len(rcv.got()); n != 1 {
					t.Errorf("%d deliveries after giving up, want 1", n)
				}
			}
		})
	}
}

// A 429's Retry-After sets the next attempt, in seconds or as a date.
func TestTooManyRequestsHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		name  string
		value func(now time.Time) string
		want  time.Duration
	}{
		{"seconds", func(time.Time) string { return "300" }, 5 * time.Minute},
		{"date", func(now time.Time) string { return now.Add(10 * time.Minute).UTC().Format(http.TimeFormat) }, 10 * time.Minute},
		{"absent", func(time.Time) string { return "" }, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOutbox(t)
			rcv := newReceiver(t, 429)
			c := newClock()
			if v := tt.value(c.Now()); v != "" {
				rcv.setHeader("Retry-After", v)
			}
			var log bytes.Buffer
			add(t, o, reminder("n", c.Now()))
			flush(t, sender(rcv.URL, config.NotifyCloudEvents, c, &log), o)
			if got := only(t, o).NextAttempt.Sub(c.Now()); got != tt.want {
				t.Errorf("next attempt in %s, want %s", got, tt.want)
			}
		})
	}
}

// Neither the secret, nor a signature, nor the URL (whose query holds the
// Teams Workflows sig) appears in the log or the outbox, whatever
// happened: sent, retried, refused, unreachable.
func TestSecretsNeverLoggedOrStored(t *testing.T) {
	const sig = "sig=Zm9vYmFyU2VjcmV0U2lnVmFsdWU"
	tests := []struct {
		name   string
		status int // 0: nothing listens
	}{{"sent", 200}, {"retried", 500}, {"refused", 400}, {"gone", 410}, {"unreachable", 0}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOutbox(t)
			rcv := newReceiver(t, tt.status)
			url := rcv.URL + "/workflows/abc/triggers/manual/paths/invoke?api-version=1&" + sig
			if tt.status == 0 {
				dead := httptest.NewServer(http.NotFoundHandler())
				dead.Close()
				url = dead.URL + "/hooks?" + sig
			}
			c := newClock()
			var log bytes.Buffer
			add(t, o, reminder("n", c.Now()))
			flush(t, sender(url, config.NotifyCloudEvents, c, &log), o)
			stored, _ := json.Marshal(list(t, o))
			secrets := []string{secret, strings.TrimPrefix(secret, "whsec_"), sig, "Zm9vYmFyU2VjcmV0U2lnVmFsdWU", "/workflows/abc", "/hooks"}
			for _, d := range rcv.got() {
				secrets = append(secrets, d.Header.Get("webhook-signature"))
			}
			if log.Len() == 0 {
				t.Fatal("nothing logged: the test would pass vacuously")
			}
			for _, s := range secrets {
				if strings.Contains(log.String(), s) {
					t.Errorf("the log holds %q:\n%s", s, log.String())
				}
				if strings.Contains(string(stored), s) {
					t.Errorf("the outbox holds %q:\n%s", s, stored)
				}
			}
		})
	}
}

// Without a URL nothing is sent and the outbox stays as it is.
func TestNoURLSendsNothing(t *testing.T) {
	o := newOutbox(t)
	c := newClock()
	var log bytes.Buffer
	add(t, o, reminder("n", c.Now()))
	if sent, failed := flush(t, sender("", config.NotifyCloudEvents, c, &log), o); sent+failed != 0 {
		t.Errorf("Flush = %d sent, %d failed; want nothing tried", sent, failed)
	}
	if e := only(t, o); e.State != notify.Pending || e.Attempts != 0 {
		t.Errorf("entry = %+v, want still pending", e)
	}
}

// Settings no delivery could succeed with stop the flush before any
// attempt, with an error naming the setting.
func TestUnusableSettingsStopTheFlush(t *testing.T) {
	tests := []struct {
		name    string
		n       config.Notify
		setting string
	}{
		{"cloudevents without a secret", config.Notify{Format: config.NotifyCloudEvents}, "STINT_NOTIFY_SECRET"},
		{"bad secret", config.Notify{Format: config.NotifySlack, Secret: "whsec_!!"}, "STINT_NOTIFY_SECRET"},
		{"unknown format", config.Notify{Format: "email", Secret: secret}, "STINT_NOTIFY_FORMAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOutbox(t)
			rcv := newReceiver(t)
			add(t, o, reminder("n", time.Now()))
			tt.n.URL = rcv.URL
			_, _, err := (&notify.Sender{Notify: tt.n}).Flush(context.Background(), o)
			if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tt.setting) {
				t.Errorf("Flush = %v, want an invalid error naming %s", err, tt.setting)
			}
			if len(rcv.got()) != 0 {
				t.Error("a delivery was attempted")
			}
		})
	}
}
