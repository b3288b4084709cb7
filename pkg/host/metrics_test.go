package host_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/sweep"
	"github.com/stintdev/stint/pkg/webhook"
)

// serve opens a sandbox host on o and runs it until the test ends; the
// channel receives the id of each message handled.
func serve(tb testing.TB, o host.Options) (*host.Host, <-chan string) {
	tb.Helper()
	o.Config, o.Sandbox, o.Addr = defaults(tb), true, "127.0.0.1:0"
	h, err := host.Open(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.Listen(); err != nil {
		h.Close()
		tb.Fatal(err)
	}
	handled := h.Handled()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	tb.Cleanup(func() { stop(); <-done; h.Close() })
	return h, handled
}

// started is an engagement.started for email, granting access from start
// for an hour.
func started(id, email string, start time.Time, access string) []byte {
	now := time.Now().UTC()
	return fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"source":"hr/test","type":"engagement.started","time":%q,"subject":"ENG-%s",
"data":{"engagementId":"ENG-%s","contractor":{"email":%q},"access":[%q],"startsAt":%q,"endsAt":%q}}`,
		id, now.Format(time.RFC3339Nano), id, id, email, access, start.UTC().Format(time.RFC3339Nano), now.Add(time.Hour).Format(time.RFC3339))
}

// post signs and sends an event to the webhook and returns the status
// answered.
func post(tb testing.TB, h *host.Host, id string, body []byte) int {
	tb.Helper()
	hdr, err := webhook.Sign(h.Secret, id, time.Now(), body)
	if err != nil {
		tb.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, h.URL(), bytes.NewReader(body))
	req.Header = hdr
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// scrape reads /metrics and parses the exposition.
func scrape(tb testing.TB, h *host.Host) exposition {
	tb.Helper()
	resp, err := http.Get(strings.TrimSuffix(h.URL(), "/events") + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("GET /metrics: %s %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		tb.Fatalf("GET /metrics: not the Prometheus text format: %v", err)
	}
	return mfs
}

var guid = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-`)

type exposition map[string]*dto.MetricFamily

// value is the sample of family name whose labels include those given as
// "name=value" pairs; ok is false when there is none.
func (e exposition) value(name string, labels ...string) (v float64, ok bool) {
	mf := e[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for _, l := range labels {
			k, want, _ := strings.Cut(l, "=")
			found := false
			for _, lp := range m.GetLabel() {
				found = found || (lp.GetName() == k && lp.GetValue() == want)
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

// want checks one sample's value.
func (e exposition) want(tb testing.TB, want float64, name string, labels ...string) {
	tb.Helper()
	got, ok := e.value(name, labels...)
	if !ok || got != want {
		tb.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
	}
}

// eventually waits up to 10 s for cond.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("after 10 s: %s", what)
		}
	}
}

// A running serve counts, at /metrics, what became of each delivery and
// message, the Graph requests by operation and status with the 429 the
// sandbox injected, the queue as it is, how long a due engagement has
// waited for the tick, and what the tick and the reconcile did.
func TestMetricsOfARunningServe(t *testing.T) {
	data := t.TempDir()
	h, handled := serve(t, host.Options{Data: data})
	ctx := context.Background()

	before := scrape(t, h)
	before.want(t, 0, "stint_webhook_deliveries_total", "result=accepted")
	before.want(t, 0, "stint_worker_messages_total", "outcome=applied")
	before.want(t, 0, "stint_queue_messages")
	before.want(t, 0, "stint_tick_lag_seconds")
	if _, ok := before.value("stint_tick_last_run_timestamp_seconds"); ok {
		t.Error("a tick time before any tick ran")
	}

	h.Sandbox.Inject(sandbox.Fault{Method: "POST", Path: "/invitations", Status: 429, RetryAfter: "0.01", Times: 1})
	soon := time.Now().Add(time.Second)
	a := started("a", "ana@partner.example", time.Now().Add(-time.Minute), "contractor-access")
	for _, p := range []struct {
		id     string
		body   []byte
		status int
	}{
		{"a", a, 202},
		{"a", a, 202}, // the sender retried
		{"b", started("b", "bo@partner.example", time.Now(), "prod-admin"), 400},
		{"c", started("c", "cy@partner.example", soon, "contractor-access"), 202}, // invited now, a member once the tick runs
	} {
		if got := post(t, h, p.id, p.body); got != p.status {
			t.Fatalf("POST %s = %d, want %d", p.id, got, p.status)
		}
	}
	// A message the worker can never apply (as a bad replay would be).
	if err := h.Queue.Enqueue(ctx, engagement.Message{ID: "junk", Group: "junk", Body: []byte("not an event")}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-handled:
		case <-time.After(20 * time.Second):
			t.Fatal("the events were not handled in 20 s")
		}
	}
	eventually(t, "the junk message dead-lettered", func() bool { v, _ := scrape(t, h).value("stint_queue_dead_letters"); return v == 1 })
	time.Sleep(time.Until(soon) + 50*time.Millisecond)

	m := scrape(t, h)
	m.want(t, 2, "stint_webhook_deliveries_total", "result=accepted")
	m.want(t, 1, "stint_webhook_deliveries_total", "result=duplicate")
	m.want(t, 1, "stint_webhook_deliveries_total", "result=refused", "reason=unknown_access")
	m.want(t, 2, "stint_worker_messages_total", "outcome=applied")
	m.want(t, 1, "stint_worker_messages_total", "outcome=refused")
	m.want(t, 1, "stint_queue_dead_lettered_total", "code=invalid")
	m.want(t, 0, "stint_queue_messages")
	m.want(t, 0, "stint_queue_oldest_message_age_seconds")
	m.want(t, 1, "stint_graph_requests_total", "operation=POST /invitations", "status=429")
	m.want(t, 2, "stint_graph_requests_total", "operation=POST /invitations", "status=201")
	if lag, _ := m.value("stint_tick_lag_seconds"); lag <= 0 || lag > 60 {
		t.Errorf("stint_tick_lag_seconds = %v with cy's start passed and no tick run, want it above 0", lag)
	}
	for _, mf := range m {
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if strings.Contains(l.GetValue(), "@") || guid.MatchString(l.GetValue()) {
					t.Errorf("%s has label %s=%q: an address or an id in a label", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}

	if _, err := host.Sweep(ctx, data, sweep.Input{Mode: "tick"}); err != nil {
		t.Fatal(err)
	}
	ghost := h.Sandbox.AddUser(sandbox.User{Mail: "ghost@old.example", UserType: "Guest", AccountEnabled: true})
	h.Sandbox.AddMember(h.Groups["contractor-access"], ghost.ID)
	if _, err := host.Sweep(ctx, data, sweep.Input{Mode: "reconcile"}); err != nil {
		t.Fatal(err)
	}
	if _, err := host.Sweep(ctx, data, sweep.Input{Mode: "reconcile", DryRun: true}); err != nil {
		t.Fatal(err)
	}
	m = scrape(t, h)
	m.want(t, 0, "stint_tick_lag_seconds")
	m.want(t, 1, "stint_sweep_runs_total", "mode=tick", "result=ok")
	m.want(t, 1, "stint_sweep_runs_total", "mode=reconcile", "result=ok") // the dry run is not counted
	m.want(t, 1, "stint_reconcile_ghosts")
	if at, _ := m.value("stint_tick_last_run_timestamp_seconds"); time.Since(time.Unix(int64(at), 0)) > time.Minute {
		t.Errorf("stint_tick_last_run_timestamp_seconds = %v, want the tick just run", at)
	}
	if took, ok := m.value("stint_reconcile_duration_seconds"); !ok || took <= 0 {
		t.Errorf("stint_reconcile_duration_seconds = %v (present %v), want the reconcile's time", took, ok)
	}
}

// Each role reports what it has: a webhook alone counts deliveries and
// reports the queue it fills, and nothing of the worker, Graph or the
// sweeps.
func TestEachRoleReportsWhatItHas(t *testing.T) {
	h, _ := serve(t, host.Options{Data: t.TempDir(), Only: host.RoleWebhook})
	for i, email := range []string{"ana@partner.example", "bo@partner.example"} {
		id := fmt.Sprint("w", i)
		if got := post(t, h, id, started(id, email, time.Now(), "contractor-access")); got != 202 {
			t.Fatalf("POST = %d, want 202", got)
		}
	}
	m := scrape(t, h)
	m.want(t, 2, "stint_webhook_deliveries_total", "result=accepted")
	m.want(t, 2, "stint_queue_messages")
	if age, _ := m.value("stint_queue_oldest_message_age_seconds"); age <= 0 || age > 60 {
		t.Errorf("stint_queue_oldest_message_age_seconds = %v, want the first message's age", age)
	}
	for _, name := range []string{"stint_worker_messages_total", "stint_graph_requests_total", "stint_tick_lag_seconds", "stint_sweep_runs_total"} {
		if _, ok := m[name]; ok {
			t.Errorf("the webhook role reports %s", name)
		}
	}
}
