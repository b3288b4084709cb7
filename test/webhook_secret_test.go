package test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stintdev/stint/test/lambdart"
	"github.com/stintdev/stint/test/secretsfake"
	"github.com/stintdev/stint/test/sqsfake"
)

// webhookWithSecret starts the webhook function with secretEnv (and the
// queue, the Secrets Manager stand-in and test credentials); it returns the
// function, whose init may have failed.
func webhookWithSecret(tb testing.TB, sm *secretsfake.Server, secretEnv ...string) (*lambdart.Function, *sqsfake.Server) {
	tb.Helper()
	q, err := sqsfake.NewServer()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { q.Close() })
	url, err := q.CreateQueue("stint-events.fifo", sqsfake.QueueOptions{FIFO: true})
	if err != nil {
		tb.Fatal(err)
	}
	env := slices.Concat([]string{"AWS_ENDPOINT_URL_SQS=" + q.URL(), "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + sm.URL(),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1", "STINT_QUEUE_URL=" + url}, secretEnv)
	f, err := lambdart.Start(build(tb, "webhook"), env)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Stop() })
	return f, q
}

func newSecrets(tb testing.TB) *secretsfake.Server {
	tb.Helper()
	sm, err := secretsfake.NewServer()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sm.Close() })
	return sm
}

// The webhook function reads its secret from Secrets Manager once, at cold
// start, and verifies signatures with it; the secret is never in its
// environment.
func TestWebhookReadsItsSecretFromSecretsManager(t *testing.T) {
	sm := newSecrets(t)
	arn := sm.Put("stint-webhook", webhookSecret)
	f, q := webhookWithSecret(t, sm, "STINT_WEBHOOK_SECRET_ARN="+arn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	body := evt("evt-sm-1", "started", "ENG-SM", "sm@contractor.example", now, map[string]any{"startsAt": ts(now), "endsAt": ts(now.Add(24 * time.Hour))})
	for i := range 2 {
		req := events.LambdaFunctionURLRequest{RawPath: "/", Body: string(body), Headers: signed(t, "msg-sm", time.Now(), body),
			RequestContext: events.LambdaFunctionURLRequestContext{HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "POST", Path: "/"}}}
		payload, _ := json.Marshal(req)
		out, err := f.Invoke(ctx, payload, 10*time.Second)
		if err != nil {
			t.Fatalf("invoke %d: %v\n%s", i+1, err, f.Logs())
		}
		var resp events.LambdaFunctionURLResponse
		if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 202 {
			t.Fatalf("invoke %d = %s (%v), want 202", i+1, out, err)
		}
	}
	if got := sm.Reads(); !slices.Equal(got, []string{arn}) {
		t.Errorf("GetSecretValue calls = %q, want one, at cold start, for %s", got, arn)
	}
	if n := len(q.Messages("stint-events.fifo")); n != 1 {
		t.Errorf("%d messages enqueued, want 1", n)
	}
	if strings.Contains(f.Logs(), strings.TrimPrefix(webhookSecret, "whsec_")) {
		t.Error("the function's logs hold the secret")
	}
}

// The webhook function refuses to start, with one precise message and
// never the secret, when its secret cannot be had one way.
func TestWebhookRefusesToStartWithoutOneSecret(t *testing.T) {
	sm := newSecrets(t)
	arn := sm.Put("stint-webhook", webhookSecret)
	denied := sm.Put("stint-webhook-denied", webhookSecret)
	sm.Deny(denied)
	garbled := sm.Put("stint-webhook-garbled", "not-a-webhook-secret")
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"both set", []string{"STINT_WEBHOOK_SECRET_ARN=" + arn, "STINT_WEBHOOK_SECRET=" + webhookSecret},
			[]string{"STINT_WEBHOOK_SECRET and STINT_WEBHOOK_SECRET_ARN are both set"}},
		{"neither set", nil, []string{"neither STINT_WEBHOOK_SECRET_ARN nor STINT_WEBHOOK_SECRET is set"}},
		{"access denied", []string{"STINT_WEBHOOK_SECRET_ARN=" + denied},
			[]string{"secretsmanager:GetSecretValue", denied}},
		{"no such secret", []string{"STINT_WEBHOOK_SECRET_ARN=" + secretsfake.ARN("missing")},
			[]string{"no secret " + secretsfake.ARN("missing")}},
		{"not a webhook secret", []string{"STINT_WEBHOOK_SECRET_ARN=" + garbled},
			[]string{"holds no valid webhook secret", garbled}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := webhookWithSecret(t, sm, tt.env...)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := f.WaitReady(ctx)
			if err == nil {
				t.Fatal("the webhook started")
			}
			logs := f.Logs()
			for _, w := range tt.want {
				if !strings.Contains(logs, w) {
					t.Errorf("logs do not say %q:\n%s", w, logs)
				}
			}
			if n := strings.Count(strings.TrimSpace(logs), "\n") + 1; n != 1 {
				t.Errorf("%d lines, want one message:\n%s", n, logs)
			}
			for _, s := range []string{strings.TrimPrefix(webhookSecret, "whsec_"), "not-a-webhook-secret"} {
				if strings.Contains(logs, s) {
					t.Errorf("the logs hold the secret:\n%s", logs)
				}
			}
		})
	}
}
