package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stintdev/stint/pkg/metrics"
)

// scrape serves m's handler and parses what it answers.
func scrape(tb testing.TB, m *metrics.Metrics) map[string]*dto.MetricFamily {
	tb.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET /metrics = %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return mfs
}

// gauge is the value of a family's only sample; ok is false when the
// family is absent.
func gauge(mfs map[string]*dto.MetricFamily, name string) (float64, bool) {
	mf := mfs[name]
	if mf == nil || len(mf.GetMetric()) != 1 {
		return 0, false
	}
	return mf.GetMetric()[0].GetGauge().GetValue(), true
}

// A store that cannot be read leaves its own metrics out of the scrape,
// says why in the log, and the rest is served.
func TestAFailingStoreLeavesOnlyItsMetricsOut(t *testing.T) {
	var logs bytes.Buffer
	m := metrics.New(metrics.Options{Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	observe := m.Webhook()
	m.Queue(func(context.Context) (metrics.QueueStats, error) {
		return metrics.QueueStats{}, errors.New("database is locked")
	})
	observe("accepted", "")
	mfs := scrape(t, m)
	if _, ok := mfs["stint_queue_messages"]; ok {
		t.Error("stint_queue_messages served though the queue could not be read")
	}
	if mfs["stint_webhook_deliveries_total"] == nil || mfs["go_goroutines"] == nil {
		t.Errorf("the rest was not served: %d families", len(mfs))
	}
	if !strings.Contains(logs.String(), "database is locked") {
		t.Errorf("log = %s; want the store's error", logs.String())
	}
}

// The tick's lag is read at each scrape from the oldest due engagement;
// the last tick's and reconcile's figures are those of the last run that
// did not fail, and are absent before one.
func TestSweepFigures(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	due := now.Add(-90 * time.Second)
	m := metrics.New(metrics.Options{Now: func() time.Time { return now }})
	ran := m.Sweeps(func(_ context.Context, at time.Time) (time.Time, error) {
		if !at.Equal(now) {
			t.Errorf("oldestDue asked at %v, want the scrape's now %v", at, now)
		}
		return due, nil
	})
	mfs := scrape(t, m)
	if lag, _ := gauge(mfs, "stint_tick_lag_seconds"); lag != 90 {
		t.Errorf("stint_tick_lag_seconds = %v, want 90", lag)
	}
	for _, name := range []string{"stint_tick_last_run_timestamp_seconds", "stint_reconcile_ghosts"} {
		if _, ok := gauge(mfs, name); ok {
			t.Errorf("%s before any run", name)
		}
	}

	ran(metrics.Sweep{Mode: "tick", At: now.Add(-time.Minute)})
	ran(metrics.Sweep{Mode: "tick", Failed: true, At: now})
	ran(metrics.Sweep{Mode: "reconcile", At: now, Took: 42 * time.Second, Ghosts: 3})
	due = time.Time{}
	mfs = scrape(t, m)
	for name, want := range map[string]float64{
		"stint_tick_lag_seconds":                     0,
		"stint_tick_last_run_timestamp_seconds":      float64(now.Add(-time.Minute).Unix()),
		"stint_reconcile_last_run_timestamp_seconds": float64(now.Unix()),
		"stint_reconcile_duration_seconds":           42,
		"stint_reconcile_ghosts":                     3,
	} {
		if got, ok := gauge(mfs, name); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
}
