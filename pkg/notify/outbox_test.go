package notify_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/notify"
)

// Adding the same id twice keeps one entry and makes one delivery; so does
// adding it again through a fresh Outbox over the same ledger, as after a
// restart, even once it was sent.
func TestOneDeliveryPerIDAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stint.db")
	rcv := newReceiver(t)
	c := newClock()
	var log bytes.Buffer
	n := reminder("reminder/ENG-1/14d", c.Now())

	first := &notify.Outbox{Ledger: openLedger(t, path)}
	if got := add(t, first, n, n); got != 1 {
		t.Errorf("Add(n, n) added %d, want 1", got)
	}
	if got := add(t, first, n); got != 0 {
		t.Errorf("Add(n) again added %d, want 0", got)
	}
	flush(t, sender(rcv.URL, config.NotifyCloudEvents, c, &log), first)
	first.Ledger.Close()

	restarted := &notify.Outbox{Ledger: openLedger(t, path)}
	if got := add(t, restarted, n); got != 0 {
		t.Errorf("Add(n) after a restart added %d, want 0", got)
	}
	c.Add(time.Hour)
	flush(t, sender(rcv.URL, config.NotifyCloudEvents, c, &log), restarted)

	if got := rcv.perID(); len(got) != 1 || got[n.ID] != 1 {
		t.Errorf("deliveries per id = %v, want %s once", got, n.ID)
	}
	if e := only(t, restarted); e.State != notify.Sent {
		t.Errorf("state = %s, want sent", e.State)
	}
}

// A new entry is pending, not tried, with the notification as given.
func TestAddRecordsPending(t *testing.T) {
	o := newOutbox(t)
	n := reminder("reminder/ENG-1/14d", time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	add(t, o, n)
	e := only(t, o)
	if e.State != notify.Pending || e.Attempts != 0 || !e.NextAttempt.IsZero() || !e.SentAt.IsZero() {
		t.Errorf("new entry = %+v, want pending, no attempts", e)
	}
	if !e.Notification.Time.Equal(n.Time) || e.Notification.ID != n.ID || e.Notification.Data.Sponsor != n.Data.Sponsor {
		t.Errorf("stored notification = %+v, want %+v", e.Notification, n)
	}
}

// List returns the oldest notification first, whatever the order added.
func TestListIsOldestFirst(t *testing.T) {
	o := newOutbox(t)
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	add(t, o, reminder("c", t0.Add(time.Hour)), reminder("b", t0), reminder("a", t0.Add(2*time.Hour)), reminder("a0", t0))
	var got []string
	for _, e := range list(t, o) {
		got = append(got, e.Notification.ID)
	}
	if want := "a0 b c a"; strings.Join(got, " ") != want {
		t.Errorf("List order = %v, want %s", got, want)
	}
}

// A long id is stored under a short hashed key, is listed whole, and is
// still deduplicated.
func TestLongIDsAreHashedAndKept(t *testing.T) {
	o := newOutbox(t)
	long := "reminder/" + strings.Repeat("x", 1500)
	add(t, o, reminder(long, time.Now()))
	if got := add(t, o, reminder(long, time.Now())); got != 0 {
		t.Errorf("Add(long id) again added %d, want 0", got)
	}
	if got := only(t, o).Notification.ID; got != long {
		t.Errorf("listed id has %d characters, want the %d given", len(got), len(long))
	}
	marks, err := o.Ledger.Marks(context.Background(), notify.MarkPrefix)
	if err != nil {
		t.Fatal(err)
	}
	for k := range marks {
		if len(k) > 256 {
			t.Errorf("mark key is %d bytes, want at most 256", len(k))
		}
	}
}

// Keys: short ids as they are; long ids, and ids that look like a hashed
// key, hashed; distinct ids, distinct keys.
func TestKey(t *testing.T) {
	long := strings.Repeat("y", 201)
	tests := []struct {
		name, id string
		asIs     bool
	}{
		{"short", "reminder/ENG-1/14d", true},
		{"200 bytes", strings.Repeat("y", 200), true},
		{"201 bytes", long, false},
		{"hash-like", "#" + strings.Repeat("0", 64), false},
		{"invalid utf-8", "a\xffb", false},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := notify.Key(tt.id)
			if got := k == notify.MarkPrefix+tt.id; got != tt.asIs {
				t.Errorf("Key(%.20q) = %.40q: as is %v, want %v", tt.id, k, got, tt.asIs)
			}
			if other, ok := seen[k]; ok {
				t.Errorf("Key(%.20q) = Key(%.20q)", tt.id, other)
			}
			seen[k] = tt.id
		})
	}
}

// A notification without an id, a known type or a time is refused, and
// nothing of the batch is added.
func TestAddRefusesIncompleteNotifications(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name  string
		n     notify.Notification
		field string
	}{
		{"no id", notify.Notification{Type: notify.GhostFound, Time: now}, "no id"},
		{"unknown type", notify.Notification{ID: "x", Type: "dev.stint.other", Time: now}, "type"},
		{"no time", notify.Notification{ID: "x", Type: notify.GhostFound}, "no time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOutbox(t)
			_, err := o.Add(context.Background(), reminder("ok", now), tt.n)
			if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Add = %v, want an invalid error naming %q", err, tt.field)
			}
			if got := list(t, o); len(got) != 0 {
				t.Errorf("the outbox holds %d entries, want none", len(got))
			}
		})
	}
}

// Entries sent or given up more than 90 days ago are pruned; newer ones,
// and ones still to be delivered, stay.
func TestPruneRemovesFinishedEntriesAfterRetention(t *testing.T) {
	o := newOutbox(t)
	c := newClock()
	rcv := newReceiver(t, 200, 410, 410, 500)
	var log bytes.Buffer
	s := sender(rcv.URL, config.NotifyCloudEvents, c, &log)

	add(t, o, reminder("sent-early", c.Now()))
	flush(t, s, o) // sent
	add(t, o, reminder("refused", c.Now().Add(time.Second)))
	flush(t, s, o) // 410: given up
	c.Add(30 * 24 * time.Hour)
	add(t, o, reminder("refused-later", c.Now()))
	flush(t, s, o) // 410 too: given up, 30 days after the others
	add(t, o, reminder("failing", c.Now().Add(time.Second)))
	flush(t, s, o) // 500: retrying

	c.Add(notify.Retention - 30*24*time.Hour + time.Hour)
	n, err := o.Prune(context.Background(), c.Now())
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range list(t, o) {
		left = append(left, e.Notification.ID)
	}
	if n != 2 || strings.Join(left, " ") != "refused-later failing" {
		t.Errorf("Prune removed %d and left %v, want 2 removed and [refused-later failing] left", n, left)
	}
}
