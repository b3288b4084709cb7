package host_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/host"
)

// BenchmarkExpiryLateness measures how late stint serve acts on ends: 1,000
// engagements whose ends are spread evenly over two minutes, on the
// embedded default with 50 ms of latency on every Graph request and the
// tick's period at its default minute. Lateness is from an engagement's
// endsAt to the moment its contractor is out of the access group, as the
// sandbox tenant shows it (sampled every 20 ms); reported as p50, p99 and
// max. The engagements are created by events first (about 30 s), so one
// run takes about three minutes.
func BenchmarkExpiryLateness(b *testing.B) {
	const n = 1000
	for range b.N {
		lateness := expiryLateness(b, n, 45*time.Second, 2*time.Minute)
		b.ReportMetric(lateness[len(lateness)/2].Seconds(), "p50-s")
		b.ReportMetric(lateness[len(lateness)*99/100].Seconds(), "p99-s")
		b.ReportMetric(lateness[len(lateness)-1].Seconds(), "max-s")
	}
}

// expiryLateness runs n engagements whose ends start after lead and are
// spread over spread, and returns each end's lateness, sorted.
func expiryLateness(b *testing.B, n int, lead, spread time.Duration) []time.Duration {
	b.StopTimer()
	h, handled := serve(b, host.Options{Data: b.TempDir(), Workers: 8, TickEvery: time.Minute, ReconcileEvery: -1})
	h.Sandbox.SetLatency(50 * time.Millisecond)

	first := time.Now().Add(lead)
	ends := make(map[string]time.Time, n) // email → end
	sem := make(chan struct{}, 16)
	for i := range n {
		email := fmt.Sprintf("x%d@partner.example", i)
		end := first.Add(spread * time.Duration(i) / time.Duration(n))
		ends[email] = end
		id := fmt.Sprintf("late-%d", i)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			if status := post(b, h, id, ending(id, email, end)); status != http.StatusAccepted {
				b.Errorf("post %s: %d", id, status)
			}
		}()
	}
	for range n {
		select {
		case <-handled:
		case <-time.After(time.Until(first)):
			b.Fatalf("the %d engagements were not all created before the first end (%s after start)", n, lead)
		}
	}
	b.StartTimer()

	group := h.Groups["contractor-access"]
	uids := map[string]string{} // user id → email
	for email := range ends {
		u, ok := h.Sandbox.UserByMail(email)
		if !ok {
			b.Fatalf("%s was not invited", email)
		}
		uids[u.ID] = email
	}
	var lateness []time.Duration
	deadline := first.Add(spread + 2*time.Minute)
	for len(uids) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		now := time.Now()
		members := map[string]bool{}
		for _, uid := range h.Sandbox.Members(group) {
			members[uid] = true
		}
		for uid, email := range uids {
			if !members[uid] {
				if now.Before(ends[email]) {
					b.Fatalf("%s removed %s before its end", email, ends[email].Sub(now))
				}
				lateness = append(lateness, now.Sub(ends[email]))
				delete(uids, uid)
			}
		}
	}
	if len(uids) > 0 {
		b.Fatalf("%d contractors still in the group two minutes after the last end", len(uids))
	}
	slices.Sort(lateness)
	return lateness
}
