package notify_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/notify"
)

// deliverAs sends one reminder in format and returns the request the
// receiver got.
func deliverAs(t *testing.T, format string) delivery {
	t.Helper()
	o := newOutbox(t)
	rcv := newReceiver(t)
	c := newClock()
	var log bytes.Buffer
	add(t, o, reminder("reminder/ENG-1/14d", time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)))
	flush(t, sender(rcv.URL, format, c, &log), o)
	got := rcv.got()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	if ct := got[0].Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return got[0]
}

// path walks decoded JSON by object keys and array indexes.
func path(t *testing.T, v any, steps ...any) any {
	t.Helper()
	for _, s := range steps {
		switch s := s.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %q: %T is not an object", s, v)
			}
			v = m[s]
		case int:
			a, ok := v.([]any)
			if !ok || s >= len(a) {
				t.Fatalf("at [%d]: %v is not an array that long", s, v)
			}
			v = a[s]
		}
	}
	return v
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return v
}

const reminderText = "Reminder: alice@vendor.example's engagement ENG-1 ends on 2026-12-16 (in 14 days); sponsor bob@corp.example"

// Teams: a message with one Adaptive Card attachment (1.4), its title,
// the text and a fact set; what a Workflows webhook posts.
func TestTeamsPayloadIsAnAdaptiveCardMessage(t *testing.T) {
	v := decode(t, deliverAs(t, config.NotifyTeams).Body)
	checks := []struct {
		at   []any
		want any
	}{
		{[]any{"type"}, "message"},
		{[]any{"attachments", 0, "contentType"}, "application/vnd.microsoft.card.adaptive"},
		{[]any{"attachments", 0, "content", "type"}, "AdaptiveCard"},
		{[]any{"attachments", 0, "content", "$schema"}, "http://adaptivecards.io/schemas/adaptive-card.json"},
		{[]any{"attachments", 0, "content", "version"}, "1.4"},
		{[]any{"attachments", 0, "content", "body", 0, "type"}, "TextBlock"},
		{[]any{"attachments", 0, "content", "body", 0, "text"}, "Engagement ends soon"},
		{[]any{"attachments", 0, "content", "body", 1, "type"}, "TextBlock"},
		{[]any{"attachments", 0, "content", "body", 1, "text"}, reminderText},
		{[]any{"attachments", 0, "content", "body", 1, "wrap"}, true},
		{[]any{"attachments", 0, "content", "body", 2, "type"}, "FactSet"},
		{[]any{"attachments", 0, "content", "body", 2, "facts", 0, "title"}, "Contractor"},
		{[]any{"attachments", 0, "content", "body", 2, "facts", 0, "value"}, "alice@vendor.example"},
		{[]any{"attachments", 0, "content", "body", 2, "facts", 3, "title"}, "Ends"},
		{[]any{"attachments", 0, "content", "body", 2, "facts", 3, "value"}, "2026-12-16"},
	}
	for _, c := range checks {
		if got := path(t, v, c.at...); got != c.want {
			t.Errorf("%v = %v, want %v", c.at, got, c.want)
		}
	}
	if n := len(path(t, v, "attachments").([]any)); n != 1 {
		t.Errorf("%d attachments, want 1", n)
	}
}

// Slack: text (the fallback) and blocks: a header, the text, the facts.
func TestSlackPayloadHasTextAndBlocks(t *testing.T) {
	v := decode(t, deliverAs(t, config.NotifySlack).Body)
	checks := []struct {
		at   []any
		want any
	}{
		{[]any{"text"}, reminderText},
		{[]any{"blocks", 0, "type"}, "header"},
		{[]any{"blocks", 0, "text", "type"}, "plain_text"},
		{[]any{"blocks", 0, "text", "text"}, "Engagement ends soon"},
		{[]any{"blocks", 1, "type"}, "section"},
		{[]any{"blocks", 1, "text", "text"}, reminderText},
		{[]any{"blocks", 2, "type"}, "section"},
		{[]any{"blocks", 2, "fields", 0, "type"}, "mrkdwn"},
		{[]any{"blocks", 2, "fields", 0, "text"}, "*Contractor*\nalice@vendor.example"},
	}
	for _, c := range checks {
		if got := path(t, v, c.at...); got != c.want {
			t.Errorf("%v = %q, want %q", c.at, got, c.want)
		}
	}
}

// A value cannot become a Slack mention or link: <, > and & are escaped
// in mrkdwn.
func TestSlackEscapesValues(t *testing.T) {
	n := notify.Notification{ID: "g", Type: notify.GhostFound, Subject: "x", Time: time.Now(),
		Data: notify.Data{Contractor: "<!channel>", Reason: "a & b"}}
	body, _, err := notify.Body(config.NotifySlack, n)
	if err != nil {
		t.Fatal(err)
	}
	v := decode(t, body)
	if got, want := path(t, v, "text"), "Ghost: &lt;!channel&gt; is a member of a managed group, and no engagement explains it: a &amp; b"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
	if got, want := path(t, v, "blocks", 2, "fields", 0, "text"), "*Contractor*\n&lt;!channel&gt;"; got != want {
		t.Errorf("field = %q, want %q", got, want)
	}
}

// Each type reads as one sentence for people.
func TestTextPerType(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	ends := time.Date(2026, 12, 16, 17, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		n    notify.Notification
		want string
	}{
		{"reminder", notify.Notification{Type: notify.EngagementReminder, Time: at,
			Data: notify.Data{Contractor: "alice@vendor.example", Engagement: "ENG-1", Sponsor: "bob@corp.example", EndsAt: ends}},
			"Reminder: alice@vendor.example's engagement ENG-1 ends on 2026-12-16 (in 14 days); sponsor bob@corp.example"},
		{"reminder, last day", notify.Notification{Type: notify.EngagementReminder, Time: ends.Add(-5 * time.Hour),
			Data: notify.Data{Contractor: "alice@vendor.example", Engagement: "ENG-1", EndsAt: ends}},
			"Reminder: alice@vendor.example's engagement ENG-1 ends on 2026-12-16 (in 5 hours)"},
		{"ended", notify.Notification{Type: notify.EngagementEnded, Time: ends,
			Data: notify.Data{Contractor: "alice@vendor.example", Engagement: "ENG-1", EndsAt: ends, Sponsor: "bob@corp.example"}},
			"alice@vendor.example's engagement ENG-1 ended on 2026-12-16; access removed; sponsor bob@corp.example"},
		{"ghost", notify.Notification{Type: notify.GhostFound, Subject: "eve@other.example", Time: at,
			Data: notify.Data{Group: "contractor-access"}},
			"Ghost: eve@other.example is a member of contractor-access, and no engagement explains it"},
		{"drift", notify.Notification{Type: notify.DriftFound, Time: at,
			Data: notify.Data{Contractor: "alice@vendor.example", Reason: "account enabled outside stint"}},
			"Drift: alice@vendor.example's access in Entra differs from what stint applied: account enabled outside stint"},
		{"policy drift", notify.Notification{Type: notify.PolicyDrift, Subject: "stint: block guests", Time: at},
			"Policy drift: Conditional Access policy stint: block guests was changed outside stint"},
		{"dormant", notify.Notification{Type: notify.ContractorDormant, Time: at,
			Data: notify.Data{Contractor: "alice@vendor.example", Engagement: "ENG-1", SignInAt: at.Add(-40 * 24 * time.Hour), Sponsor: "bob@corp.example"}},
			"Dormant: alice@vendor.example has not signed in since 2026-10-23 (engagement ENG-1); sponsor bob@corp.example"},
		{"signed in after the end", notify.Notification{Type: notify.SignInAfterEnd, Time: at,
			Data: notify.Data{Contractor: "alice@vendor.example", Engagement: "ENG-1", EndsAt: ends, SignInAt: ends.Add(2 * time.Hour)}},
			"alice@vendor.example signed in on 2026-12-16 19:00 UTC, after engagement ENG-1 ended on 2026-12-16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.n.Text(); got != tt.want {
				t.Errorf("Text() = %q\nwant      %q", got, tt.want)
			}
		})
	}
}
