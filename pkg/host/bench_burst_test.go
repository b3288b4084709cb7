package host_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/webhook"
	"github.com/stintdev/stint/pkg/worker"
)

// BenchmarkBurst is go-live, or a reorganisation, at Graph's ceiling:
// STINT_BURST `started` events (default 2,000; 200 with -short) arrive at
// once at stint serve on the embedded default, half for users the tenant
// already holds, half for new guests, while the sandbox enforces Graph's
// identity-and-access budgets for the app (8,000 resource units per 10 s,
// as for a tenant over 500 users; 3,000 writes per 150 s) — with the write
// bucket empty at the start, as for an app that has just spent it, so
// every write waits for the refill of 20 a second. The worker runs with
// STINT_BURST_WORKERS consumers (default: stint serve's, DefaultWorkers).
//
// It reports, counted at the sandbox (what Graph charges the app):
//
//   - writes/contractor, and for existing users and new guests apart: an
//     invitation is one new guest's; a membership write (a PATCH of up to
//     20 members, or a POST of one) is shared by every contractor, each
//     of whom needed one membership;
//   - members/write: memberships per membership write;
//   - wall-s, from the first event posted to the last one applied, and
//     floor-s, the writes at 20 a second, with their ratio;
//   - 429s answered, and errors surfaced: messages retried or
//     dead-lettered rather than applied (0 wanted).
func BenchmarkBurst(b *testing.B) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	n = envInt(b, "STINT_BURST", n)
	workers := envInt(b, "STINT_BURST_WORKERS", host.DefaultWorkers)
	for range b.N {
		burst(b, n/2*2, workers)
	}
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		tb.Fatalf("%s=%q: want a whole number of at least 2", name, v)
	}
	return n
}

// burstCounts are what the run's observers saw.
type burstCounts struct {
	mu       sync.Mutex
	outcomes map[string]int
}

func (c *burstCounts) add(outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outcomes[outcome]++
}

func burst(b *testing.B, n, workers int) {
	b.StopTimer()
	cfg, err := config.Load(config.Stint, func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	h, err := host.Open(context.Background(), host.Options{Config: cfg, Sandbox: true, Data: b.TempDir(), Addr: "127.0.0.1:0",
		Workers: workers, TickEvery: -1, ReconcileEvery: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	for i := range n / 2 {
		mail := fmt.Sprintf("existing%d@partner.example", i)
		h.Sandbox.AddUser(sandbox.User{DisplayName: mail, Mail: mail, UserType: "Guest", AccountEnabled: true, ExternalUserState: "Accepted"})
	}
	h.Sandbox.EnableThrottling(sandbox.Throttle{UnitsPer10s: 8000, WritesPer150s: 3000, WritesSpent: 3000})
	counts := &burstCounts{outcomes: map[string]int{}}
	observe := h.Events.Observe
	h.Events.Observe = func(outcome string) {
		counts.add(outcome)
		if observe != nil {
			observe(outcome)
		}
	}
	if err := h.Listen(); err != nil {
		b.Fatal(err)
	}
	handled := h.Handled()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { stop(); <-done }()

	b.StartTimer()
	start := time.Now()
	postBurst(b, h, n)
	for got := 0; got < n; got++ {
		select {
		case <-handled:
		case <-time.After(10 * time.Minute):
			b.Fatalf("%d of %d events applied after 10 minutes without progress", got, n)
		}
	}
	wall := time.Since(start)
	b.StopTimer()

	var usage sandbox.Usage
	for _, u := range h.Sandbox.ThrottleUsage() {
		usage.Writes += u.Writes
		usage.Throttled += u.Throttled
	}
	invites, memberships := graphWrites(h.Sandbox)
	if members := len(h.Sandbox.Members(h.Groups["contractor-access"])); members != n {
		b.Errorf("%d members in contractor-access, want %d", members, n)
	}
	stats, err := h.Queue.Stats(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	surfaced := counts.outcomes[worker.Retried] + counts.outcomes[worker.Refused] + stats.DeadLetters
	share := float64(memberships) / float64(n)
	floor := float64(usage.Writes) / 20
	b.ReportMetric(float64(usage.Writes)/float64(n), "writes/contractor")
	b.ReportMetric(share, "writes/existing")
	b.ReportMetric(float64(invites)/float64(n/2)+share, "writes/new")
	b.ReportMetric(float64(n)/float64(max(memberships, 1)), "members/write")
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(floor, "floor-s")
	b.ReportMetric(wall.Seconds()/floor, "wall/floor")
	b.ReportMetric(float64(usage.Throttled), "429s")
	b.ReportMetric(float64(surfaced), "errors")
	b.Logf("%d events, %d workers: %d writes (%d invitations, %d membership writes), %d throttled; outcomes %v, %d dead letters",
		n, workers, usage.Writes, invites, memberships, usage.Throttled, counts.outcomes, stats.DeadLetters)
}

// postBurst sends n started events, half for existing users and half for
// new guests, interleaved, from 16 senders at once.
func postBurst(b *testing.B, h *host.Host, n int) {
	now := time.Now()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		email := fmt.Sprintf("existing%d@partner.example", i/2)
		if i%2 == 1 {
			email = fmt.Sprintf("new%d@partner.example", i/2)
		}
		id := fmt.Sprintf("burst-%d-%d", now.UnixNano(), i)
		body := fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"source":"hr/burst","type":"engagement.started","time":%q,"subject":"E-%d",
"data":{"engagementId":"E-%d","contractor":{"email":%q},"endsAt":%q}}`,
			id, now.UTC().Format(time.RFC3339Nano), i, i, email, now.Add(30*24*time.Hour).UTC().Format(time.RFC3339))
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			hdr, _ := webhook.Sign(h.Secret, id, time.Now(), body)
			req, _ := http.NewRequest(http.MethodPost, h.URL(), bytes.NewReader(body))
			req.Header = hdr
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Errorf("post: %v", err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("post: %s", resp.Status)
			}
		}()
	}
	wg.Wait()
}
