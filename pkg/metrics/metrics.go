// Package metrics is what stint serve exposes at /metrics, in the
// Prometheus text format: what became of webhook deliveries and queued
// messages, the queue's depth and age, Graph requests by operation and
// status, how far the tick lags, and what the last reconcile found.
//
// Metrics owns its registry (never the process-wide default one) and the
// metric definitions. The packages it measures do not import it: each
// offers a narrow hook — a function field such as webhook.Handler.Observe,
// worker.Handler.Observe or entra.Config.Observe — and the host plugs in
// what a role's method here returns. Registering happens there, once per
// method (a second call panics on the duplicate), so a process reports
// only what its role has (stint serve --only). The AWS Lambda functions
// set no hook and link no Prometheus client.
//
// What depends on stored state — the queue's depth and oldest message, the
// tick's lag — is read from the store when scraped (a prometheus.Collector),
// never polled. Every label takes one of a bounded set of values, none of
// them a person's: Graph requests are named by a path template
// (entra.Operation), never by URL.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options tune Metrics; zero values take the defaults.
type Options struct {
	// Log receives the errors of a scrape (a store that cannot be read);
	// nil discards them.
	Log *slog.Logger
	// Now is the clock of the scrape-time ages and lags (default
	// time.Now).
	Now func() time.Time
}

// Metrics is one process's metrics.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger
	now func() time.Time
}

// New builds the registry with the Go runtime's and the process's own
// metrics; each role's method adds its own.
func New(o Options) *Metrics {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Metrics{reg: reg, log: o.Log, now: o.Now}
}

// Handler serves the registry at /metrics. A collector that fails (a store
// that cannot be read) leaves its metrics out of that scrape and is
// logged; the rest is served. A scrape waits at most 10 s.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            errorLog{m.log},
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            m.reg,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// errorLog is promhttp's Logger on slog, one line per error.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Println(v ...any) {
	l.log.Error("metrics: scrape", "error", strings.ReplaceAll(strings.TrimSpace(fmt.Sprintln(v...)), "\n", "; "))
}

// scrapeTimeout bounds one collector's reads of the store.
const scrapeTimeout = 5 * time.Second

// Webhook registers the webhook's counter and returns the hook for
// webhook.Handler.Observe.
func (m *Metrics) Webhook() func(result, reason string) {
	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stint_webhook_deliveries_total",
		Help: "Deliveries to the webhook, by result (accepted, duplicate, refused, unavailable) and, for a refusal, reason.",
	}, []string{"result", "reason"})
	m.reg.MustRegister(deliveries)
	for _, r := range []string{"accepted", "duplicate", "unavailable"} {
		deliveries.WithLabelValues(r, "")
	}
	return func(result, reason string) { deliveries.WithLabelValues(result, reason).Inc() }
}

// Worker registers the worker's counters and returns the hooks for
// worker.Handler.Observe and the embedded consumer's DeadLettered.
func (m *Metrics) Worker() (message func(outcome string), deadLettered func(code string)) {
	messages := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stint_worker_messages_total",
		Help: "Queued messages the worker handled, by outcome: applied, applied_out_of_order, stale, duplicate, refused (never to succeed; dead-lettered), retried (failed transiently).",
	}, []string{"outcome"})
	dead := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stint_queue_dead_lettered_total",
		Help: "Messages moved to the embedded queue's dead letters, by stint code (transient: out of attempts).",
	}, []string{"code"})
	m.reg.MustRegister(messages, dead)
	for _, o := range []string{"applied", "applied_out_of_order", "stale", "duplicate", "refused", "retried"} {
		messages.WithLabelValues(o)
	}
	for _, c := range []string{"invalid", "not_found", "conflict", "unauthorized", "transient", "internal"} { // fault's codes
		dead.WithLabelValues(c)
	}
	return func(o string) { messages.WithLabelValues(o).Inc() },
		func(code string) { dead.WithLabelValues(code).Inc() }
}

// Graph registers the Graph request metrics and returns the hook the host
// adapts entra.Config.Observe to: a request on the wire (every attempt) or
// an item of a $batch (inBatch), by operation and status (0: no answer).
func (m *Metrics) Graph() func(operation string, status int, inBatch bool, took time.Duration) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stint_graph_requests_total",
		Help: "Microsoft Graph requests on the wire, every attempt (so each 429 the SDK retries), by operation (method and path template) and status (error: no answer).",
	}, []string{"operation", "status"})
	seconds := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "stint_graph_request_duration_seconds",
		Help:    "How long Microsoft Graph requests took on the wire, by operation.",
		Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"operation"})
	items := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stint_graph_batch_items_total",
		Help: "Items of Microsoft Graph $batch requests, each attempt, by operation and the item's own status (a throttled item is a 429 inside a 200 envelope).",
	}, []string{"operation", "status"})
	m.reg.MustRegister(requests, seconds, items)
	return func(operation string, status int, inBatch bool, took time.Duration) {
		code := "error"
		if status != 0 {
			code = strconv.Itoa(status)
		}
		if inBatch {
			items.WithLabelValues(operation, code).Inc()
			return
		}
		requests.WithLabelValues(operation, code).Inc()
		seconds.WithLabelValues(operation).Observe(took.Seconds())
	}
}

// QueueStats is the queue at the time of a scrape.
type QueueStats struct {
	// Messages are queued, in hand or waiting.
	Messages int
	// Oldest is when the oldest of them was queued; zero when none is.
	Oldest time.Time
	// DeadLetters are on the dead-letter list.
	DeadLetters int
}

// Queue registers the queue's gauges, read by stats at each scrape.
func (m *Metrics) Queue(stats func(context.Context) (QueueStats, error)) {
	m.reg.MustRegister(&queueCollector{stats: stats, now: m.now,
		messages: prometheus.NewDesc("stint_queue_messages", "Messages in the embedded queue, in hand or waiting.", nil, nil),
		age:      prometheus.NewDesc("stint_queue_oldest_message_age_seconds", "Age of the oldest message in the embedded queue (0 when it is empty).", nil, nil),
		dead:     prometheus.NewDesc("stint_queue_dead_letters", "Messages on the embedded queue's dead-letter list.", nil, nil),
	})
}

type queueCollector struct {
	stats               func(context.Context) (QueueStats, error)
	now                 func() time.Time
	messages, age, dead *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.messages
	ch <- c.age
	ch <- c.dead
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	s, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.messages, err)
		return
	}
	age := 0.0
	if !s.Oldest.IsZero() {
		age = max(c.now().Sub(s.Oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.messages, prometheus.GaugeValue, float64(s.Messages))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(s.DeadLetters))
}
