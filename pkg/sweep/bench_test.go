package sweep_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra/entratest"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/sweep"
)

// BenchmarkReconcile100k reconciles one group of 100,000 members with
// Graph's resource-unit throttling on at its documented budget for a small
// tenant, and reports the Graph requests per 1,000 members, the wall time
// of a run, and its peak heap: the most the Go heap held during the run
// (live and not yet collected, sampled every 5 ms) above what it held
// before, which also counts the in-process sandbox's answers, so the
// reconcile's own figure is lower.
func BenchmarkReconcile100k(b *testing.B) {
	e := newEnv(b, entratest.Options{MaxRetries: 10})
	cg := e.groups["contractor-access"]
	for i := range 100_000 {
		u := e.tenant.AddUser(sandbox.User{DisplayName: "m", Mail: fmt.Sprintf("m%d@bulk.example", i), UserType: "Guest", AccountEnabled: true, ExternalUserState: "Accepted"})
		if err := e.tenant.AddMember(cg, u.ID); err != nil {
			b.Fatal(err)
		}
	}
	e.tenant.EnableThrottling(sandbox.Throttle{})
	b.ResetTimer()
	requests := 0
	var peak uint64
	for b.Loop() {
		before := len(e.tenant.GraphRequests())
		var sum sweep.Summary
		var err error
		peak = max(peak, peakHeap(func() {
			sum, err = e.sweeper.Run(context.Background(), sweep.Input{Mode: "reconcile", DryRun: true})
		}))
		if err != nil || sum.Errors != 0 || sum.Examined != 100_000 {
			b.Fatalf("reconcile: %+v, %v", sum.Examined, err)
		}
		requests += len(e.tenant.GraphRequests()) - before
	}
	b.ReportMetric(float64(requests)/float64(b.N)/100, "requests/1000members")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// BenchmarkTickFiveThousandEnds ends 5,000 guests at once (each in one
// group) in one tick, against the sandbox with 50 ms of latency on every
// Graph request and without Graph's write budget, and reports the wall
// time beside the floor that budget sets: 20 writes a second per app and
// tenant, two writes (the removal in the remove-and-read $batch, the
// block) per guest.
func BenchmarkTickFiveThousandEnds(b *testing.B) {
	const n = 5000
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, entratest.Options{MaxRetries: 10})
		cg := e.groups["contractor-access"]
		ctx := context.Background()
		for i := range n {
			key := fmt.Sprintf("g%04d@ends.example", i)
			u := e.tenant.AddUser(sandbox.User{Mail: key, UserType: "Guest", AccountEnabled: true, ExternalUserState: "Accepted"})
			if err := e.tenant.AddMember(cg, u.ID); err != nil {
				b.Fatal(err)
			}
			eng := engagement.Engagement{ID: fmt.Sprintf("E-%04d", i), Contractor: key, Email: key, Access: []string{"contractor-access"},
				StartsAt: e.at(-10), EndsAt: e.at(0.5), Started: true, State: engagement.Active}
			c := engagement.Contractor{Key: key, UserID: u.ID, Guest: true, Granted: []string{"contractor-access"}}
			if _, _, err := e.ledger.Commit(ctx, engagement.Change{Contractor: c, Engagements: []engagement.Engagement{eng}}); err != nil {
				b.Fatal(err)
			}
		}
		e.tenant.SetLatency(50 * time.Millisecond)
		e.now = e.at(0.5).Add(time.Second)
		before := len(e.tenant.GraphRequests())
		b.StartTimer()
		start := time.Now()
		sum, err := e.sweeper.Run(ctx, sweep.Input{Mode: "tick"})
		wall := time.Since(start)
		b.StopTimer()
		if err != nil || sum.Expired != n || sum.Errors != 0 {
			b.Fatalf("tick: expired %d, errors %d, %v", sum.Expired, sum.Errors, err)
		}
		writes := 0
		for _, r := range e.tenant.GraphRequests()[before:] {
			if r.Method != "GET" {
				writes++
			}
		}
		b.ReportMetric(wall.Seconds(), "s/5000ends")
		b.ReportMetric(float64(2*n)/20, "s-floor-at-20writes/s")
		b.ReportMetric(float64(writes)/n, "requests-written/guest")
		b.StartTimer()
	}
}

// peakHeap runs f and returns the most the heap held while it ran above
// what it held, collected, before.
func peakHeap(f func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var top uint64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			top = max(top, read())
			select {
			case <-stop:
				peak <- top
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(stop)
	top := <-peak
	if top < base {
		return 0
	}
	return top - base
}
