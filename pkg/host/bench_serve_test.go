package host_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/webhook"
)

// serveBurst is how many new contractors BenchmarkServeBurst posts at once:
// issue 17's figure, a company onboarding a vendor's whole staff.
const serveBurst = 2000

// BenchmarkServeBurst posts 2,000 new-contractor events at once (32
// senders) to stint serve on the embedded default — the sandbox tenant
// persisted in the data directory, no Graph latency, the SQLite ledger and
// the embedded queue, the default workers — and reports how fast they
// are accepted (first post to last 202) and applied (first post to the
// last message settled, each after its 3 Graph calls). Each round adds
// 2,000 more contractors to the same tenant.
func BenchmarkServeBurst(b *testing.B) {
	h := openBenchHost(b, host.Options{})
	handled := h.Handled()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { stop(); <-done }()
	client := benchClient()

	var accepting, applying time.Duration
	b.ResetTimer()
	for round := range b.N {
		start := time.Now()
		var posted atomic.Int64
		senders(32, serveBurst, func(i int) {
			id := fmt.Sprintf("burst-%d-%d", round, i)
			postEvent(b, client, h, id, newContractor(id, fmt.Sprintf("r%d-c%d@burst.example", round, i)))
			posted.Add(1)
		})
		accepting += time.Since(start)
		for range serveBurst {
			select {
			case <-handled:
			case <-time.After(5 * time.Minute):
				b.Fatalf("round %d: events not applied within 5 minutes", round)
			}
		}
		applying += time.Since(start)
	}
	b.StopTimer() // not the shutdown
	b.ReportMetric(float64(b.N*serveBurst)/accepting.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N*serveBurst)/applying.Seconds(), "applied/s")
}

// openBenchHost opens stint serve's host on the sandbox in a fresh data
// directory, with o's role and workers, listening on a loopback port.
func openBenchHost(b *testing.B, o host.Options) *host.Host {
	b.Helper()
	cfg, err := config.Load(config.Stint, func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	o.Config, o.Sandbox, o.Data, o.Addr = cfg, true, b.TempDir(), "127.0.0.1:0"
	h, err := host.Open(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	if err := h.Listen(); err != nil {
		b.Fatal(err)
	}
	return h
}

// benchClient keeps a connection per sender, as a sender's HTTP client
// does, rather than Go's default of two idle connections per host.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}
}

// senders runs send(i) for i in [0, n) on k goroutines and waits for them.
func senders(k, n int, send func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				send(i)
			}
		}()
	}
	wg.Wait()
}

// newContractor is an engagement.started event for a contractor not seen
// before, active now for an hour.
func newContractor(id, email string) []byte {
	now := time.Now().UTC()
	return fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"source":"hr/bench","type":"engagement.started","time":%q,"subject":"E-%s",
"data":{"engagementId":"E-%s","contractor":{"email":%q},"endsAt":%q}}`,
		id, now.Format(time.RFC3339Nano), id, id, email, now.Add(time.Hour).Format(time.RFC3339))
}

// postEvent signs body and posts it to h's webhook; anything but 202 fails
// the benchmark.
func postEvent(b *testing.B, client *http.Client, h *host.Host, id string, body []byte) {
	hdr, err := webhook.Sign(h.Secret, id, time.Now(), body)
	if err != nil {
		b.Error(err)
		return
	}
	req, _ := http.NewRequest(http.MethodPost, h.URL(), bytes.NewReader(body))
	req.Header = hdr
	resp, err := client.Do(req)
	if err != nil {
		b.Errorf("post %s: %v", id, err)
		return
	}
	io.Copy(io.Discard, resp.Body) // read to the end, so the connection is kept
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b.Errorf("post %s: %s, want 202", id, resp.Status)
	}
}
