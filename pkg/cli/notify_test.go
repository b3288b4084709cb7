package cli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/notify"
	"github.com/stintdev/stint/pkg/queue/embedded"
)

// seedOutbox fills a data directory's outbox with three notifications:
// one sent, one given up (410), one pending.
func seedOutbox(t *testing.T) string {
	t.Helper()
	statuses := map[string]int{"ended/ENG-1": http.StatusOK, "ghost/u-1": http.StatusGone}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(statuses[r.Header.Get("webhook-id")])
	}))
	defer rcv.Close()
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	return seed(t, func(ctx context.Context, l *sqlite.Ledger, _ *embedded.Queue) {
		o := &notify.Outbox{Ledger: l}
		if _, err := o.Add(ctx,
			notify.Notification{ID: "ended/ENG-1", Type: notify.EngagementEnded, Subject: "ana@partner.example", Time: at},
			notify.Notification{ID: "ghost/u-1", Type: notify.GhostFound, Subject: "eve@other.example", Time: at.Add(time.Minute)},
		); err != nil {
			t.Fatal(err)
		}
		s := &notify.Sender{Notify: config.Notify{URL: rcv.URL, Format: config.NotifyCloudEvents, Secret: webhookSecret}}
		if _, _, err := s.Flush(ctx, o); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Add(ctx, notify.Notification{ID: "reminder/ENG-2/14d", Type: notify.EngagementReminder, Subject: "bo@partner.example", Time: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	})
}

// stint notify list shows each notification of the outbox, oldest first,
// with its state; --json prints the entries.
func TestNotifyListShowsTheOutbox(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	data := seedOutbox(t)

	code, out, errOut := run(t, "notify", "list", "--data", data)
	if code != 0 {
		t.Fatalf("notify list exited %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("notify list printed %d lines, want a header and 3 rows:\n%s", len(lines), out)
	}
	rows := []struct{ id, typ, subject, state, attempts string }{
		{"ended/ENG-1", "engagement.ended", "ana@partner.example", "sent", "1"},
		{"ghost/u-1", "ghost.found", "eve@other.example", "given-up", "1"},
		{"reminder/ENG-2/14d", "engagement.reminder", "bo@partner.example", "pending", "0"},
	}
	for i, want := range rows {
		f := strings.Fields(lines[i+1])
		if len(f) < 5 || f[0] != want.id || f[1] != want.typ || f[2] != want.subject || f[3] != want.state || f[4] != want.attempts {
			t.Errorf("row %d = %q, want %s %s %s %s %s ...", i+1, lines[i+1], want.id, want.typ, want.subject, want.state, want.attempts)
		}
	}
	if !strings.Contains(lines[2], "410 Gone") {
		t.Errorf("the given-up row lacks why: %q", lines[2])
	}

	code, out, errOut = run(t, "notify", "list", "--json", "--data", data)
	if code != 0 {
		t.Fatalf("notify list --json exited %d: %s", code, errOut)
	}
	var entries []notify.Entry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Notification.ID+":"+string(e.State))
	}
	if want := "ended/ENG-1:sent ghost/u-1:given-up reminder/ENG-2/14d:pending"; strings.Join(got, " ") != want {
		t.Errorf("notify list --json = %v, want %s", got, want)
	}
}

// An empty outbox is [] in JSON, and a header alone in text.
func TestNotifyListEmpty(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	data := seed(t, nil)
	if code, out, errOut := run(t, "notify", "list", "--json", "--data", data); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("notify list --json = %d %q %s, want []", code, out, errOut)
	}
	if code, out, _ := run(t, "notify", "list", "--data", data); code != 0 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "ID") {
		t.Errorf("notify list = %d %q, want the header alone", code, out)
	}
}

// Without a ledger, stint notify list says where it looked and what to do.
func TestNotifyListWithoutALedger(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	code, _, errOut := run(t, "notify", "list", "--data", t.TempDir())
	if code == 0 || !strings.Contains(errOut, "no ledger at") {
		t.Errorf("notify list without a ledger = %d %q, want an error naming the missing ledger", code, errOut)
	}
}
