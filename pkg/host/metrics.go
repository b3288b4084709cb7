package host

import (
	"context"
	"time"

	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/metrics"
	"github.com/stintdev/stint/pkg/sweep"
)

// observers are the host's metrics and the hooks its roles plug in; a
// hook is nil when the role that calls it is not played.
type observers struct {
	m            *metrics.Metrics
	graph        func(entra.Observed)
	deadLettered func(fault.Code)
	sweep        func(metrics.Sweep)
}

// newObservers builds the metrics and, before the Graph adapter is built,
// its hook: the worker and the sweeps call Graph, the webhook never does.
func (h *Host) newObservers() {
	h.obs = &observers{m: metrics.New(metrics.Options{Log: h.o.Log})}
	if h.plays(RoleWorker) || h.plays(RoleSweep) {
		graph := h.obs.m.Graph()
		h.obs.graph = func(r entra.Observed) { graph(r.Operation, r.Status, r.InBatch, r.Duration) }
	}
}

// observe plugs the metrics of each role this host plays into the
// handlers settings built: what a process does not do, it does not report.
func (h *Host) observe() {
	m := h.obs.m
	if h.plays(RoleWebhook) {
		h.Webhook.Observe = m.Webhook()
	}
	if h.plays(RoleWorker) {
		var dead func(string)
		h.Events.Observe, dead = m.Worker()
		h.obs.deadLettered = func(c fault.Code) { dead(string(c)) }
	}
	// The embedded queue is reported where it is used; Service Bus
	// reports its own (Azure Monitor).
	if h.sb == nil && (h.plays(RoleWebhook) || h.plays(RoleWorker)) {
		m.Queue(func(ctx context.Context) (metrics.QueueStats, error) {
			s, err := h.Queue.Stats(ctx)
			return metrics.QueueStats{Messages: s.Messages, Oldest: s.Oldest, DeadLetters: s.DeadLetters}, err
		})
	}
	if h.plays(RoleSweep) {
		h.obs.sweep = m.Sweeps(func(ctx context.Context, now time.Time) (time.Time, error) {
			due, err := h.Ledger.Due(ctx, now, 1)
			if err != nil || len(due) == 0 {
				return time.Time{}, err
			}
			return due[0].DueAt(), nil
		})
	}
}

// runSweep runs one sweep and, unless it was a dry run, records it in the
// metrics.
func (h *Host) runSweep(ctx context.Context, in sweep.Input) (sweep.Summary, error) {
	sum, err := h.Sweeper.Run(ctx, in)
	if h.obs.sweep != nil && !in.DryRun && (in.Mode == "tick" || in.Mode == "reconcile") {
		h.obs.sweep(metrics.Sweep{Mode: in.Mode, Failed: err != nil, Skipped: sum.Skipped, At: time.Now(),
			Took: time.Duration(sum.Seconds * float64(time.Second)), Ghosts: sum.Ghosts})
	}
	return sum, err
}
