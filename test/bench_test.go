package test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/webhook"
	"github.com/stintdev/stint/test/postgres"
)

// BenchmarkServeSQLite, BenchmarkServePostgreSQL1 and
// BenchmarkServePostgreSQL3 post new-contractor events to stint serve
// processes (one on its data directory's SQLite ledger; one and three
// replicas on one PostgreSQL ledger), spread over the replicas by 8
// senders, against a tenant the benchmark serves with 50 ms of latency on
// every Graph request, and report events per second from the first post
// to the last contractor in the group.
func BenchmarkServeSQLite(b *testing.B)      { benchServe(b, 1, false) }
func BenchmarkServePostgreSQL1(b *testing.B) { benchServe(b, 1, true) }
func BenchmarkServePostgreSQL3(b *testing.B) { benchServe(b, 3, true) }

func benchServe(b *testing.B, replicas int, shared bool) {
	tenant := serveTenant(b, permissions)
	tenant.SetLatency(50 * time.Millisecond)
	env := tenant.env
	if shared {
		env = append(env, "STINT_STORE="+postgres.Start(b, postgres.Options{}).Database(b))
	}
	var addrs []string
	for range replicas {
		addr := freeAddr(b)
		p := startServe(b, b.TempDir(), addr, append(env, "--workers=8")...)
		b.Cleanup(func() { p.cmd.Process.Signal(syscall.SIGTERM); p.cmd.Wait() })
		addrs = append(addrs, addr)
	}
	now := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range b.N {
		id := fmt.Sprintf("bench-%d-%d", now.UnixNano(), i)
		body := evt(id, "started", "E-"+id, id+"@bench.example", now, map[string]any{"endsAt": ts(now.Add(time.Hour))})
		addr := addrs[i%len(addrs)]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			h, _ := webhook.Sign(webhookSecret, id, time.Now(), body)
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/events", bytes.NewReader(body))
			req.Header = h
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusAccepted {
				b.Errorf("post: %v %v", err, resp)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Minute)
	for len(tenant.Members(tenant.group)) < b.N {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d contractors in the group after 5 minutes", len(tenant.Members(tenant.group)), b.N)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
