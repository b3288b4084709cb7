package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/queue/sqs"
	"github.com/stintdev/stint/pkg/sandbox"
)

// deadLetters records what it is given; DeadLetterFunc may refuse.
type deadLetters struct {
	mu             sync.Mutex
	got            map[string]string // event id -> reason
	DeadLetterFunc func(m engagement.Message) error
}

var _ engagement.DeadLetters = (*deadLetters)(nil)

func (d *deadLetters) DeadLetter(_ context.Context, m engagement.Message, reason error) error {
	if d.DeadLetterFunc != nil {
		if err := d.DeadLetterFunc(m); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.got == nil {
		d.got = map[string]string{}
	}
	d.got[m.ID] = reason.Error()
	return nil
}

// panicky is a Directory that panics when asked for one address.
type panicky struct {
	engagement.Directory
	email string
}

func (p panicky) FindUser(ctx context.Context, email string) (engagement.User, error) {
	if strings.EqualFold(email, p.email) {
		panic("directory exploded")
	}
	return p.Directory.FindUser(ctx, email)
}

func sqsMessage(id string, ev event.Event, body string) events.SQSMessage {
	if body == "" {
		body = mustJSON(ev)
	}
	return events.SQSMessage{MessageId: id, Body: body, Attributes: map[string]string{
		"MessageGroupId": strings.ToLower(ev.Data.Contractor.Email), "MessageDeduplicationId": ev.ID,
	}}
}

func (e *env) startedFor(id, email string, access ...string) event.Event {
	ev := e.started(id, e.day(0), e.day(-1), e.day(30), access...)
	ev.Data.Contractor.Email = email
	ev.Subject, ev.Data.EngagementID = "ENG-"+id, "ENG-"+id
	return ev
}

func TestSQSBatch(t *testing.T) {
	e := newEnv(t)
	e.handler.Directory = panicky{Directory: e.handler.Directory, email: "boom@vendor.example"}
	dlq := &deadLetters{}
	h := &sqs.Consumer{Handle: e.handler.Process, DeadLetters: dlq, Concurrency: 4, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}

	var batch events.SQSEvent
	for i := range 6 {
		batch.Records = append(batch.Records, sqsMessage(fmt.Sprint("m", i), e.startedFor(fmt.Sprint("ok", i), fmt.Sprintf("ok%d@vendor.example", i)), ""))
	}
	batch.Records = append(batch.Records,
		events.SQSMessage{MessageId: "m-malformed", Body: `{"specversion":"1.0"`, Attributes: map[string]string{"MessageGroupId": "x@y.example", "MessageDeduplicationId": "broken"}},
		sqsMessage("m-badkey", e.startedFor("badkey", "bad@vendor.example", "vpn-admins"), ""),
		// A panic fails its message and, to keep the order, the later
		// message of the same contractor; other contractors go on.
		sqsMessage("m-boom-1", e.startedFor("boom1", "boom@vendor.example"), ""),
		sqsMessage("m-boom-2", e.startedFor("boom2", "boom@vendor.example"), ""),
	)
	resp, err := h.Consume(context.Background(), batch)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	slices.Sort(failed)
	if !slices.Equal(failed, []string{"m-boom-1", "m-boom-2"}) {
		t.Errorf("BatchItemFailures = %v, want the panicking message and the later one of its contractor", failed)
	}
	if len(dlq.got) != 2 || !strings.Contains(dlq.got["broken"], "invalid event") || !strings.Contains(dlq.got["hr/test badkey"], `"vpn-admins" is not configured`) {
		t.Errorf("dead letters = %v, want the malformed message and the unknown access key, with reasons", dlq.got)
	}
	for i := range 6 {
		if u, ok := e.tenant.UserByMail(fmt.Sprintf("ok%d@vendor.example", i)); !ok || len(e.memberOf(u.ID)) != 1 {
			t.Errorf("ok%d was not applied", i)
		}
	}
	trail, _ := e.ledger.Audit(context.Background(), engagement.AuditQuery{Contractor: "-"})
	if len(trail) != 1 || trail[0].Action != engagement.EventRefused {
		t.Errorf("audit of the malformed message = %+v, want one refusal", trail)
	}
}

func TestSQSDeadLetterQueueDownKeepsTheMessage(t *testing.T) {
	e := newEnv(t)
	dlq := &deadLetters{DeadLetterFunc: func(engagement.Message) error { return errors.New("sqs: connection refused") }}
	h := &sqs.Consumer{Handle: e.handler.Process, DeadLetters: dlq, Concurrency: 1, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	resp, _ := h.Consume(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		sqsMessage("m1", e.startedFor("bad", "bad@vendor.example", "vpn-admins"), ""),
	}})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m1" {
		t.Errorf("BatchItemFailures = %+v, want m1 listed: a permanent failure the DLQ refused must be redelivered, not dropped", resp.BatchItemFailures)
	}
}

func TestSQSTransientFailureHoldsBackTheContractorsLaterMessages(t *testing.T) {
	e := newEnv(t)
	e.tenant.Inject(sandbox.Fault{Path: "/users", Status: 503, Times: 100})
	h := &sqs.Consumer{Handle: e.handler.Process, DeadLetters: &deadLetters{}, Concurrency: 2, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	resp, _ := h.Consume(ctx, events.SQSEvent{Records: []events.SQSMessage{
		sqsMessage("a1", e.startedFor("a1", "a@vendor.example"), ""),
		sqsMessage("a2", e.startedFor("a2", "a@vendor.example"), ""),
	}})
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if !slices.Equal(failed, []string{"a1", "a2"}) {
		t.Errorf("BatchItemFailures = %v, want a1 (failed) and a2 (held back, in order)", failed)
	}
}

// In an invocation's last moments no message is started: those left are
// listed for redelivery, and the ones done are not.
func TestSQSStopsStartingNearTheDeadline(t *testing.T) {
	e := newEnv(t)
	e.tenant.SetLatency(300 * time.Millisecond)
	h := &sqs.Consumer{Handle: e.handler.Process, DeadLetters: &deadLetters{}, Concurrency: 1, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var batch []events.SQSMessage
	for i := range 6 {
		batch = append(batch, sqsMessage(fmt.Sprint("m", i), e.startedFor(fmt.Sprint("s", i), fmt.Sprintf("n%d@vendor.example", i)), ""))
	}
	resp, err := h.Consume(ctx, events.SQSEvent{Records: batch})
	if err != nil || ctx.Err() != nil {
		t.Fatalf("Handle = %v, context %v; want it back before the deadline", err, ctx.Err())
	}
	applied := 0
	for i := range 6 {
		if u, ok := e.tenant.UserByMail(fmt.Sprintf("n%d@vendor.example", i)); ok && len(e.memberOf(u.ID)) == 1 {
			applied++
		}
	}
	if applied == 0 || applied == 6 || applied+len(resp.BatchItemFailures) != 6 {
		t.Errorf("%d applied, %d listed for redelivery; want some applied and the rest listed, none cut off", applied, len(resp.BatchItemFailures))
	}
}
