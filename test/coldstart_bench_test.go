package test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stintdev/stint/test/lambdart"
)

// BenchmarkColdStart starts each Lambda binary 10 times under the Runtime
// API harness, as deployed (the webhook reads its secret from the Secrets
// Manager stand-in; the worker and sweep read their groups from the
// sandbox tenant over TLS), and reports the median time from starting the
// process to its first GET .../invocation/next: the function's init. The
// binaries are the test build (the zips add -trimpath and -s -w).
func BenchmarkColdStart(b *testing.B) {
	w := newWorld(b, worldOptions{})
	sm := newSecrets(b)
	arn := sm.Put("stint-webhook", webhookSecret)
	envs := map[string][]string{
		"webhook": slices.Concat(w.workerEnv, []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + sm.URL(), "STINT_WEBHOOK_SECRET_ARN=" + arn, "STINT_QUEUE_URL=" + w.queueURL}),
		"worker":  w.workerEnv,
		"sweep":   w.workerEnv,
	}
	for _, fn := range []string{"webhook", "worker", "sweep"} {
		b.Run(fn, func(b *testing.B) {
			bin := build(b, fn)
			for range b.N {
				var inits []time.Duration
				for range 10 {
					inits = append(inits, coldStart(b, bin, envs[fn]))
				}
				slices.Sort(inits)
				b.ReportMetric(float64((inits[4]+inits[5])/2)/1e6, "ms/init-median")
			}
		})
	}
}

// coldStart starts bin and returns how long it took to ask for its first
// invocation.
func coldStart(tb testing.TB, bin string, env []string) time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	f, err := lambdart.Start(bin, env)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Stop()
	if err := f.WaitReady(ctx); err != nil {
		tb.Fatal(err)
	}
	return time.Since(start)
}
