package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sweep is one tick or reconcile as the host saw it end.
type Sweep struct {
	// Mode is tick or reconcile.
	Mode string
	// Failed: the run returned an error. Skipped: another run held the
	// lease and this one did nothing.
	Failed, Skipped bool
	// At is when it ended, Took how long it ran.
	At   time.Time
	Took time.Duration
	// Ghosts are the memberships a reconcile found no engagement
	// justifies (sweep.Summary.Ghosts).
	Ghosts int
}

// Sweeps registers the sweep metrics and returns the hook the host calls
// after each run. oldestDue, read at each scrape, is when the oldest
// engagement due at now and not yet settled fell due; zero when none is
// (the ledger's Due(ctx, now, 1)).
func (m *Metrics) Sweeps(oldestDue func(ctx context.Context, now time.Time) (time.Time, error)) func(Sweep) {
	runs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stint_sweep_runs_total",
		Help: "Sweep runs, by mode (tick, reconcile) and result (ok, failed, skipped: another run held the lease).",
	}, []string{"mode", "result"})
	c := &sweepCollector{oldestDue: oldestDue, now: m.now,
		lag:       prometheus.NewDesc("stint_tick_lag_seconds", "How long the oldest engagement due and not yet settled has been due (0 when none is): up to the tick's period is normal.", nil, nil),
		lastTick:  prometheus.NewDesc("stint_tick_last_run_timestamp_seconds", "When the last tick that did not fail ended (absent until one has).", nil, nil),
		lastRec:   prometheus.NewDesc("stint_reconcile_last_run_timestamp_seconds", "When the last reconcile that did not fail ended (absent until one has).", nil, nil),
		recTook:   prometheus.NewDesc("stint_reconcile_duration_seconds", "How long the last reconcile that did not fail ran.", nil, nil),
		recGhosts: prometheus.NewDesc("stint_reconcile_ghosts", "Group memberships no active engagement justifies, as the last reconcile that did not fail found them (flagged within their grace, or removed).", nil, nil),
	}
	m.reg.MustRegister(runs, c)
	for _, mode := range []string{"tick", "reconcile"} {
		for _, result := range []string{"ok", "failed", "skipped"} {
			runs.WithLabelValues(mode, result)
		}
	}
	return func(s Sweep) {
		result := "ok"
		switch {
		case s.Failed:
			result = "failed"
		case s.Skipped:
			result = "skipped"
		}
		runs.WithLabelValues(s.Mode, result).Inc()
		if result == "ok" {
			c.ran(s)
		}
	}
}

type sweepCollector struct {
	oldestDue func(context.Context, time.Time) (time.Time, error)
	now       func() time.Time

	lag, lastTick, lastRec, recTook, recGhosts *prometheus.Desc

	mu        sync.Mutex
	tick, rec Sweep // the last of each that did not fail; zero At until then
}

func (c *sweepCollector) ran(s Sweep) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.Mode == "tick" {
		c.tick = s
	} else {
		c.rec = s
	}
}

func (c *sweepCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lag, c.lastTick, c.lastRec, c.recTook, c.recGhosts} {
		ch <- d
	}
}

func (c *sweepCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	tick, rec := c.tick, c.rec
	c.mu.Unlock()
	if !tick.At.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.lastTick, prometheus.GaugeValue, seconds(tick.At))
	}
	if !rec.At.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.lastRec, prometheus.GaugeValue, seconds(rec.At))
		ch <- prometheus.MustNewConstMetric(c.recTook, prometheus.GaugeValue, rec.Took.Seconds())
		ch <- prometheus.MustNewConstMetric(c.recGhosts, prometheus.GaugeValue, float64(rec.Ghosts))
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	now := c.now()
	due, err := c.oldestDue(ctx, now)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.lag, err)
		return
	}
	lag := 0.0
	if !due.IsZero() {
		lag = max(now.Sub(due).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, lag)
}

// seconds is a time as Prometheus timestamps are: seconds since the epoch.
func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
