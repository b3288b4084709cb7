package host_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/host"
)

// BenchmarkIngest measures stint serve's webhook alone (--only webhook: no
// worker takes messages meanwhile): 32 senders post signed events as fast
// as they are answered, and it reports accepted events per second and the
// p50 and p99 time from post to 202. A 202 means the event is committed to
// the embedded queue in the SQLite file.
func BenchmarkIngest(b *testing.B) {
	h := openBenchHost(b, host.Options{Only: host.RoleWebhook})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { stop(); <-done }()
	client := benchClient()
	run := time.Now().UnixNano()

	var mu sync.Mutex
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	senders(32, b.N, func(i int) {
		id := fmt.Sprintf("ingest-%d-%d", run, i)
		body := newContractor(id, fmt.Sprintf("c%d-%d@ingest.example", run, i))
		start := time.Now()
		postEvent(b, client, h, id, body)
		took := time.Since(start)
		mu.Lock()
		latencies = append(latencies, took)
		mu.Unlock()
	})
	b.StopTimer() // not the shutdown
	elapsed := b.Elapsed()
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "accepted/s")
	b.ReportMetric(latencies[len(latencies)/2].Seconds()*1000, "p50-ms")
	b.ReportMetric(latencies[len(latencies)*99/100].Seconds()*1000, "p99-ms")
}
