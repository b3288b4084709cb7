package host_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/webhook"
)

// BenchmarkEndToEnd sends new-contractor events to stint serve's webhook
// on the embedded default (sandbox tenant with 50 ms of Graph latency per
// request, SQLite ledger and queue), as fast as 8 senders can, and reports
// events per second and the p50/p99 latency from posting the event to
// "Entra changed" (a message is acknowledged only after its Graph writes).
// Saturated, latency is mostly time waiting in the queue.
func BenchmarkEndToEnd(b *testing.B) { benchEndToEnd(b, 0) }

// BenchmarkEndToEndPaced sends 10 events a second, below the throughput,
// so its latency is that of one event: the figure for the design's "event
// accepted → access changed, p99 under 2 s".
func BenchmarkEndToEndPaced(b *testing.B) { benchEndToEnd(b, 100*time.Millisecond) }

func benchEndToEnd(b *testing.B, every time.Duration) {
	h, handled := serve(b, host.Options{Data: b.TempDir(), Workers: 8})
	h.Sandbox.SetLatency(50 * time.Millisecond)

	var mu sync.Mutex
	acceptedAt := map[string]time.Time{}
	var latencies []time.Duration
	finished := make(chan struct{})
	go func() {
		for id := range handled {
			mu.Lock()
			latencies = append(latencies, time.Since(acceptedAt[id]))
			n := len(latencies)
			mu.Unlock()
			if n == b.N {
				close(finished)
				return
			}
		}
	}()
	now := time.Now()
	b.ResetTimer()
	sem := make(chan struct{}, 8)
	for i := range b.N {
		id := fmt.Sprintf("bench-%d-%d", now.UnixNano(), i)
		body := []byte(fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"hr/bench","type":"engagement.started","time":%q,"subject":"E-%d",
"data":{"engagementId":"E-%d","contractor":{"email":"b%d-%d@bench.example"},"endsAt":%q}}`,
			id, now.UTC().Format(time.RFC3339Nano), i, i, now.UnixNano(), i, now.Add(time.Hour).UTC().Format(time.RFC3339)))
		sem <- struct{}{}
		if every > 0 {
			time.Sleep(every)
		}
		go func() {
			defer func() { <-sem }()
			hdr, _ := webhook.Sign(h.Secret, id, time.Now(), body)
			req, _ := http.NewRequest(http.MethodPost, h.URL(), bytes.NewReader(body))
			req.Header = hdr
			mu.Lock()
			acceptedAt["hr/bench "+id] = time.Now()
			mu.Unlock()
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusAccepted {
				b.Errorf("post: %v %v", err, resp)
				return
			}
			resp.Body.Close()
		}()
	}
	select {
	case <-finished:
	case <-time.After(5 * time.Minute):
		b.Fatal("events not handled in 5 minutes")
	}
	elapsed := b.Elapsed()
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(latencies[len(latencies)/2].Seconds()*1000, "p50-ms")
	b.ReportMetric(latencies[len(latencies)*99/100].Seconds()*1000, "p99-ms")
}
