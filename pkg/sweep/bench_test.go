package sweep_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stintdev/stint/pkg/entra/entratest"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/sweep"
)

// BenchmarkReconcile100k reconciles one group of 100,000 members with
// Graph's resource-unit throttling on at its documented budget for a small
// tenant, and reports the Graph requests per 1,000 members and the wall
// time of a run.
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
	for b.Loop() {
		before := len(e.tenant.GraphRequests())
		sum, err := e.sweeper.Run(context.Background(), sweep.Input{Mode: "reconcile", DryRun: true})
		if err != nil || sum.Errors != 0 || sum.Examined != 100_000 {
			b.Fatalf("reconcile: %+v, %v", sum.Examined, err)
		}
		requests += len(e.tenant.GraphRequests()) - before
	}
	b.ReportMetric(float64(requests)/float64(b.N)/100, "requests/1000members")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
}
