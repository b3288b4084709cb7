package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/ledger"
	stintsqs "github.com/stintdev/stint/pkg/queue/sqs"
	"github.com/stintdev/stint/pkg/sandbox"
)

// evt builds an event body. at is the event time; data holds data members.
func evt(id, typ, eng, email string, at time.Time, data map[string]any) []byte {
	d := map[string]any{"engagementId": eng, "contractor": map[string]any{"email": email, "displayName": strings.Split(email, "@")[0]}}
	for k, v := range data {
		d[k] = v
	}
	b, _ := json.Marshal(map[string]any{
		"specversion": "1.0", "id": id, "source": "hr/e2e", "type": "engagement." + typ,
		"time": at.UTC().Format(time.RFC3339Nano), "subject": eng, "datacontenttype": "application/json", "data": d,
	})
	return b
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// sqsClient is the real SDK client, pointed at the SQS server.
func (w *world) sqsClient() *awssqs.Client {
	return awssqs.New(awssqs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(w.sqs.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// enqueue puts bodies straight on the event queue, as the webhook would,
// in the order given.
func (w *world) enqueue(tb testing.TB, bodies ...[]byte) {
	tb.Helper()
	q := stintsqs.New(w.sqsClient(), w.queueURL)
	for _, b := range bodies {
		m := engagement.Message{ID: fmt.Sprintf("raw-%d", time.Now().UnixNano()), Group: "malformed", Body: b}
		if ev, err := event.Parse(b); err == nil {
			m = engagement.Message{ID: ev.Key(), Digest: ev.Digest(), Group: ev.ContractorKey(), Body: b}
		}
		if err := q.Enqueue(context.Background(), m); err != nil {
			tb.Fatal(err)
		}
	}
}

func (w *world) user(tb testing.TB, email string) (sandbox.User, bool) {
	tb.Helper()
	return w.tenant.UserByMail(email)
}

func (w *world) groupsOf(uid string) []string {
	var keys []string
	for key, gid := range w.groups {
		if slices.Contains(w.tenant.Members(gid), uid) {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys
}

func (w *world) graphWrites() int {
	n := 0
	for _, r := range w.tenant.GraphRequests() {
		if r.Method != "GET" {
			n++
		}
	}
	return n
}

func TestWebhookToEntraLifecycle(t *testing.T) {
	w := newWorld(t, worldOptions{})
	now := time.Now()
	email := "ana@partner.example"
	started := evt("e2e-start", "started", "ENG-1", email, now.Add(-time.Minute), map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(90 * 24 * time.Hour))})

	if r := w.post(t, started, signed(t, "msg-1", now, started)); r.StatusCode != 202 {
		t.Fatalf("webhook = %d %s, want 202", r.StatusCode, r.Body)
	}
	w.idle(t)
	ana, ok := w.user(t, email)
	if !ok || ana.UserType != "Guest" || !ana.AccountEnabled {
		t.Fatalf("ana = %+v (found %v), want an enabled guest\nworker log:\n%s", ana, ok, w.worker.Logs())
	}
	if got := w.groupsOf(ana.ID); !slices.Equal(got, []string{"contractor-access"}) {
		t.Fatalf("ana's groups = %v, want contractor-access", got)
	}

	t.Run("the same event again changes nothing", func(t *testing.T) {
		writes := w.graphWrites()
		if r := w.post(t, started, signed(t, "msg-1b", time.Now(), started)); r.StatusCode != 202 {
			t.Fatalf("webhook = %d, want 202", r.StatusCode)
		}
		w.idle(t)
		if got := w.graphWrites(); got != writes {
			t.Errorf("Graph writes went from %d to %d, want no change", writes, got)
		}
		if n := len(w.tenant.Invitations()); n != 1 {
			t.Errorf("%d invitations, want 1", n)
		}
	})
	t.Run("extended moves the end with no Graph write", func(t *testing.T) {
		writes := w.graphWrites()
		ext := evt("e2e-ext", "extended", "ENG-1", email, time.Now(), map[string]any{"endsAt": ts(now.Add(180 * 24 * time.Hour))})
		if r := w.post(t, ext, signed(t, "msg-2", time.Now(), ext)); r.StatusCode != 202 {
			t.Fatalf("webhook = %d, want 202", r.StatusCode)
		}
		w.idle(t)
		if got := w.graphWrites(); got != writes {
			t.Errorf("Graph writes went from %d to %d, want none", writes, got)
		}
		rec := w.engagement(t, "ENG-1")
		if want := now.Add(180 * 24 * time.Hour).Truncate(time.Second); !rec.EndsAt.Equal(want) {
			t.Errorf("EndsAt = %v, want %v", rec.EndsAt, want)
		}
	})
	t.Run("ended removes the guest from the group and blocks sign-in", func(t *testing.T) {
		end := evt("e2e-end", "ended", "ENG-1", email, time.Now(), nil)
		if r := w.post(t, end, signed(t, "msg-3", time.Now(), end)); r.StatusCode != 202 {
			t.Fatalf("webhook = %d, want 202", r.StatusCode)
		}
		w.idle(t)
		ana, _ := w.user(t, email)
		if ana.AccountEnabled || len(w.groupsOf(ana.ID)) != 0 {
			t.Errorf("after the end: enabled %v, groups %v; want blocked, in no group", ana.AccountEnabled, w.groupsOf(ana.ID))
		}
	})
}

func (w *world) engagement(tb testing.TB, id string) engagement.Engagement {
	tb.Helper()
	l, err := ledger.Open(context.Background(), w.store)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	rec, err := l.Engagement(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return rec
}

// Out of order and duplicated delivery ends in the state in-order delivery
// gives: the same records, the same group memberships, no enabled account
// holding access it should not.
func TestOrderOfDeliveryDoesNotMatter(t *testing.T) {
	w := newWorld(t, worldOptions{})
	now := time.Now()
	type run struct {
		email string
		order []int
	}
	runs := []run{
		{"in-order@partner.example", []int{0, 1, 2}},
		{"ended-first@partner.example", []int{2, 0, 1}},
		{"extended-last@partner.example", []int{0, 2, 1}},
		{"duplicated@partner.example", []int{1, 1, 0, 2, 0, 2}},
	}
	for _, r := range runs {
		eng := "ENG-" + strings.Split(r.email, "@")[0]
		bodies := [][]byte{
			evt(eng+"-s", "started", eng, r.email, now.Add(-3*time.Minute), map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(30 * 24 * time.Hour)), "access": []string{"contractor-access", "github-org"}}),
			evt(eng+"-x", "extended", eng, r.email, now.Add(-2*time.Minute), map[string]any{"endsAt": ts(now.Add(60 * 24 * time.Hour))}),
			evt(eng+"-e", "ended", eng, r.email, now.Add(-time.Minute), nil),
		}
		for _, i := range r.order {
			w.enqueue(t, bodies[i])
		}
	}
	w.idle(t)
	want := w.engagement(t, "ENG-in-order")
	for _, r := range runs {
		eng := "ENG-" + strings.Split(r.email, "@")[0]
		got := w.engagement(t, eng)
		if got.State != engagement.Ended || !got.EndsAt.Equal(want.EndsAt) || !got.StartsAt.Equal(want.StartsAt) || !slices.Equal(got.Access, want.Access) || got.Started != want.Started {
			t.Errorf("%s: record %s %v..%v %v started=%v, want as in order: %s %v..%v %v started=%v", r.email,
				got.State, got.StartsAt, got.EndsAt, got.Access, got.Started, want.State, want.StartsAt, want.EndsAt, want.Access, want.Started)
		}
		if u, ok := w.user(t, r.email); ok && (u.AccountEnabled || len(w.groupsOf(u.ID)) > 0) {
			t.Errorf("%s: enabled %v in %v, want no access", r.email, u.AccountEnabled, w.groupsOf(u.ID))
		}
	}
}

func TestThrottlingAndOutagesLoseNothing(t *testing.T) {
	w := newWorld(t, worldOptions{visibility: 500 * time.Millisecond})
	w.tenant.Inject(sandbox.Fault{Path: "/invitations", Status: 429, RetryAfter: "0.3", Times: 4})
	w.tenant.Inject(sandbox.Fault{Path: "/groups/", Status: 503, Times: 6})
	w.tenant.Inject(sandbox.Fault{Path: "/users", Status: 503, Times: 3})
	now := time.Now()
	var emails []string
	for i := range 12 {
		email := fmt.Sprintf("c%02d@vendor.example", i)
		emails = append(emails, email)
		w.enqueue(t, evt(fmt.Sprintf("thr-%d", i), "started", fmt.Sprintf("ENG-T%d", i), email, now.Add(-time.Minute),
			map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(24 * time.Hour))}))
	}
	w.idle(t)
	for _, email := range emails {
		u, ok := w.user(t, email)
		if !ok || !slices.Equal(w.groupsOf(u.ID), []string{"contractor-access"}) {
			t.Errorf("%s: found %v, groups %v; want invited and in contractor-access", email, ok, w.groupsOf(u.ID))
		}
	}
	if n := len(w.tenant.Invitations()); n != len(emails) {
		t.Errorf("%d invitations for %d contractors: want one each, no duplicates", n, len(emails))
	}
	if dead := w.sqs.Messages("stint-dlq.fifo"); len(dead) != 0 {
		for _, m := range dead {
			t.Logf("dead letter %s: %s", m.MessageAttributes["stint-event-key"], m.MessageAttributes["stint-reason"])
		}
		t.Errorf("%d messages dead-lettered, want none", len(dead))
	}
}

// A message that fails transiently forever is not retried forever: SQS's
// redrive policy moves it to the dead-letter queue after its maximum receive
// count, and the contractor's later messages follow in order once it is out
// of the way.
func TestEndlessTransientFailureIsRedrivenToTheDeadLetterQueue(t *testing.T) {
	w := newWorld(t, worldOptions{maxReceives: 3, visibility: 2 * time.Second, timeout: 2 * time.Second})
	w.tenant.Inject(sandbox.Fault{Path: "/invitations", Status: 503})
	now := time.Now()
	w.enqueue(t, evt("stuck", "started", "ENG-STUCK", "stuck@vendor.example", now.Add(-time.Minute),
		map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(time.Hour))}))
	w.idle(t)
	dead := w.sqs.Messages("stint-dlq.fifo")
	if len(dead) != 1 || !strings.Contains(dead[0].Body, `"id":"stuck"`) || dead[0].ReceiveCount < 3 {
		t.Fatalf("dead letters = %+v, want the stuck event after 3 receives", dead)
	}
	if _, ok := w.user(t, "stuck@vendor.example"); ok {
		t.Error("the stuck contractor was invited despite the outage")
	}
}

func TestBadMessagesGoToTheDeadLetterQueue(t *testing.T) {
	w := newWorld(t, worldOptions{})
	now := time.Now()
	foreign := w.tenant.AddGroup(sandbox.Group{DisplayName: "Domain admins", SecurityEnabled: true})
	var good []string
	for i := range 22 {
		email := fmt.Sprintf("ok%02d@vendor.example", i)
		good = append(good, email)
		w.enqueue(t, evt(fmt.Sprintf("ok-%d", i), "started", fmt.Sprintf("ENG-OK%d", i), email, now.Add(-time.Minute),
			map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(24 * time.Hour))}))
		if i == 7 {
			w.enqueue(t, []byte(`{"specversion":"1.0","id":"broken",`))
		}
		if i == 11 {
			w.enqueue(t, evt("bad-key", "started", "ENG-BAD1", "bad1@vendor.example", now.Add(-time.Minute),
				map[string]any{"endsAt": ts(now.Add(time.Hour)), "access": []string{"vpn-admins"}}))
		}
		if i == 15 {
			w.enqueue(t, evt("bad-group", "started", "ENG-BAD2", "bad2@vendor.example", now.Add(-time.Minute),
				map[string]any{"endsAt": ts(now.Add(time.Hour)), "access": []string{foreign.ID}}))
		}
	}
	w.idle(t)
	dead := w.sqs.Messages("stint-dlq.fifo")
	reasons := map[string]string{}
	for _, m := range dead {
		reasons[m.MessageAttributes["stint-event-key"]] = m.MessageAttributes["stint-reason"]
	}
	if len(dead) != 3 {
		t.Fatalf("%d dead letters, want 3: %v", len(dead), reasons)
	}
	for id, want := range map[string]string{"hr/e2e bad-key": `"vpn-admins" is not configured`, "hr/e2e bad-group": `"` + foreign.ID + `" is not configured`} {
		if !strings.Contains(reasons[id], want) {
			t.Errorf("dead letter %q: reason %q, want it to say %q", id, reasons[id], want)
		}
	}
	malformed := 0
	for _, reason := range reasons {
		if strings.HasPrefix(reason, "invalid event: body is not valid JSON") {
			malformed++
		}
	}
	if malformed != 1 {
		t.Errorf("dead letters %v: want one for the malformed body, saying it is not valid JSON", reasons)
	}
	if slices.Contains(w.tenant.Members(w.groups["contractor-access"]), foreign.ID) || len(w.tenant.Members(foreign.ID)) != 0 {
		t.Error("the group that is not allow-listed was touched")
	}
	for _, email := range good {
		if u, ok := w.user(t, email); !ok || len(w.groupsOf(u.ID)) != 1 {
			t.Errorf("%s was not applied", email)
		}
	}
}

func TestWebhookRefusals(t *testing.T) {
	w := newWorld(t, worldOptions{})
	now := time.Now()
	body := evt("wh-1", "started", "ENG-W", "wes@partner.example", now, map[string]any{"endsAt": ts(now.Add(time.Hour))})
	invalid := evt("wh-2", "started", "ENG-W", "wes@partner.example", now, nil) // no endsAt
	tamper := signed(t, "msg-t", now, body)
	tamper["webhook-signature"] = "v1," + strings.Repeat("A", 43) + "="
	tests := []struct {
		name    string
		body    []byte
		headers map[string]string
		status  int
	}{
		{"bad signature", body, tamper, 401},
		{"stale timestamp", body, signed(t, "msg-s", now.Add(-10*time.Minute), body), 401},
		{"oversize body", bytes.Repeat([]byte("x"), 70_000), map[string]string{}, 413},
		{"invalid event", invalid, signed(t, "msg-i", now, invalid), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := w.post(t, tt.body, tt.headers); r.StatusCode != tt.status {
				t.Errorf("status = %d (%s), want %d", r.StatusCode, r.Body, tt.status)
			}
		})
	}
	if n := len(w.sqs.Messages("stint-events.fifo")); n != 0 {
		t.Errorf("%d messages enqueued by refused deliveries, want 0", n)
	}
	t.Run("the same delivery twice: 202 both times, enqueued once", func(t *testing.T) {
		w.mapping.Stop() // keep the queue as the webhook left it
		h := signed(t, "msg-d", now, body)
		for i := range 2 {
			if r := w.post(t, body, h); r.StatusCode != 202 {
				t.Fatalf("delivery %d: %d %s", i+1, r.StatusCode, r.Body)
			}
		}
		if n := len(w.sqs.Messages("stint-events.fifo")); n != 1 {
			t.Errorf("%d messages enqueued, want 1", n)
		}
	})
}

func TestWebhookBinaryHasNoGraphSDK(t *testing.T) {
	bin := build(t, "webhook")
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatal(err, string(out))
	}
	if strings.Contains(string(out), "msgraph-sdk-go") || strings.Contains(string(out), "kiota") {
		t.Errorf("the webhook binary links the Graph SDK:\n%s", out)
	}
	if !strings.Contains(string(out), "aws-lambda-go") {
		t.Errorf("go version -m shows no aws-lambda-go: is this the webhook?\n%s", out)
	}
}

// The AWS worker links the Graph SDK (it calls Graph) but no Service Bus
// client: each transport's consumer lives with its own adapter.
func TestAWSWorkerBinaryHasNoServiceBus(t *testing.T) {
	bin := build(t, "worker")
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatal(err, string(out))
	}
	if strings.Contains(string(out), "azservicebus") || strings.Contains(string(out), "go-amqp") {
		t.Errorf("the AWS worker binary links the Service Bus client:\n%s", out)
	}
	if !strings.Contains(string(out), "aws-lambda-go") || !strings.Contains(string(out), "msgraph-sdk-go") {
		t.Errorf("go version -m shows no aws-lambda-go or no Graph SDK: is this the worker?\n%s", out)
	}
}

// The AWS Lambda functions link no Prometheus client: /metrics is stint
// serve's (pkg/metrics), and the packages they share with it only offer
// hooks.
func TestLambdaBinariesHaveNoPrometheus(t *testing.T) {
	for _, fn := range []string{"webhook", "worker", "sweep"} {
		out, err := exec.Command("go", "version", "-m", build(t, fn)).CombinedOutput()
		if err != nil {
			t.Fatal(err, string(out))
		}
		if strings.Contains(string(out), "github.com/prometheus/") {
			t.Errorf("the %s binary links a Prometheus module:\n%s", fn, out)
		}
		if !strings.Contains(string(out), "aws-lambda-go") {
			t.Errorf("go version -m shows no aws-lambda-go: is this the %s function?\n%s", fn, out)
		}
	}
	out, err := exec.Command("go", "version", "-m", build(t, "stint")).CombinedOutput()
	if err != nil {
		t.Fatal(err, string(out))
	}
	if !strings.Contains(string(out), "github.com/prometheus/client_golang") {
		t.Errorf("the stint binary links no Prometheus client: is the check above looking for the right module?\n%s", out)
	}
}
