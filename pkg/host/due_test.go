package host_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/host"
)

// ending is an engagement.started event for email, from now to end.
func ending(id, email string, end time.Time) []byte {
	return fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"source":"hr/test","type":"engagement.started","time":%q,"subject":%q,
"data":{"engagementId":%q,"contractor":{"email":%q},"endsAt":%q}}`,
		id, time.Now().UTC().Format(time.RFC3339Nano), "E-"+id, "E-"+id, email, end.UTC().Format(time.RFC3339Nano))
}

// An end is acted on at its time, not at the next scheduled tick: with the
// tick's period an hour, an engagement that ends two seconds after it was
// handled is removed and blocked all the same, since the tick wakes at the
// next due end the ledger holds, re-read whenever a message is handled.
func TestAnEndIsActedOnAtItsTime(t *testing.T) {
	h, _ := serve(t, host.Options{Data: t.TempDir(), TickEvery: time.Hour, ReconcileEvery: -1})

	end := time.Now().Add(2 * time.Second)
	if status := post(t, h, "soon-1", ending("soon-1", "soon@partner.example", end)); status != http.StatusAccepted {
		t.Fatalf("post: %d, want 202", status)
	}
	group := h.Groups["contractor-access"]
	var uid string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("contractor not added and later removed and blocked within 30 s (user %q, members %v)", uid, h.Sandbox.Members(group))
		}
		u, ok := h.Sandbox.UserByMail("soon@partner.example")
		if !ok {
			continue
		}
		uid = u.ID
		in := slices.Contains(h.Sandbox.Members(group), u.ID)
		if time.Now().Before(end) && !in && u.AccountEnabled {
			continue // not added yet
		}
		if !in && !u.AccountEnabled {
			if time.Now().Before(end) {
				t.Fatalf("access ended before the engagement's end %s", end)
			}
			return
		}
	}
}
