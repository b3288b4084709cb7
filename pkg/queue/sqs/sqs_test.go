package sqs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/queue/sqs"
	"github.com/stintdev/stint/test/sqsfake"
)

func setup(t *testing.T) (*sqsfake.Server, *sqs.Queue, *sqs.Queue) {
	t.Helper()
	return setupWith(t, sqsfake.QueueOptions{FIFO: true})
}

// setupWith serves events.fifo (with o) and dlq.fifo over SQS's JSON
// protocol.
func setupWith(t *testing.T, o sqsfake.QueueOptions) (*sqsfake.Server, *sqs.Queue, *sqs.Queue) {
	t.Helper()
	srv, err := sqsfake.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	client := awssqs.New(awssqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	events, _ := srv.CreateQueue("events.fifo", o)
	dlq, _ := srv.CreateQueue("dlq.fifo", sqsfake.QueueOptions{FIFO: true})
	return srv, sqs.New(client, events), sqs.New(client, dlq)
}

func TestEnqueueGroupsByContractorAndDeduplicatesByEvent(t *testing.T) {
	srv, q, _ := setup(t)
	ctx := context.Background()
	m := engagement.Message{ID: "hr/workday 01JD6Z6X1Q9WJ7T9A3M1D9K2FQ", Digest: "d1", Group: "ana@partner.example", Body: []byte(`{"id":"01JD6Z6X1Q9WJ7T9A3M1D9K2FQ"}`)}
	for range 2 {
		if err := q.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	got := srv.Messages("events.fifo")
	if len(got) != 1 || got[0].GroupID != m.Group || len(got[0].DeduplicationID) != 64 || got[0].Body != string(m.Body) {
		t.Errorf("queue holds %+v, want one message grouped by contractor, deduplicated by a digest of the event", got)
	}
}

// Keys SQS's old character mapping and truncation confused reach the queue
// as distinct messages; so does another event reusing a key (the worker
// refuses it, with a reason, rather than SQS dropping it unseen).
func TestDeduplicationIDsDoNotCollide(t *testing.T) {
	srv, q, _ := setup(t)
	ctx := context.Background()
	long := "hr/x " + strings.Repeat("p", 200)
	pairs := [][2]engagement.Message{
		{{ID: long + "started-1", Digest: "a"}, {ID: long + "ended-2", Digest: "a"}},
		{{ID: "hr/x évt-1", Digest: "a"}, {ID: "hr/x èvt-1", Digest: "a"}},
		{{ID: "hr/x evt 1", Digest: "a"}, {ID: "hr/x evt_1", Digest: "a"}},
		{{ID: "hr/x reused", Digest: "a"}, {ID: "hr/x reused", Digest: "b"}},
	}
	for i, pair := range pairs {
		for _, m := range pair {
			m.Group, m.Body = fmt.Sprint("g", i), []byte(m.ID+m.Digest)
			if err := q.Enqueue(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := len(srv.Messages("events.fifo")); got != 2*len(pairs) {
		t.Errorf("the queue holds %d messages, want %d: no two distinct events may share a deduplication id", got, 2*len(pairs))
	}
}

func TestDeadLetterCarriesTheReason(t *testing.T) {
	srv, _, dlq := setup(t)
	reason := fault.Errorf(fault.Invalid, "invalid event: /type: must be one of …")
	if err := dlq.DeadLetter(context.Background(), engagement.Message{ID: "hr/x ev-1", Group: "ana@partner.example", Body: []byte("{}")}, reason); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages("dlq.fifo")
	if len(got) != 1 {
		t.Fatalf("%d dead letters, want 1", len(got))
	}
	attrs := got[0].MessageAttributes
	if attrs["stint-reason"] != reason.Error() || attrs["stint-code"] != "invalid" || attrs["stint-event-key"] != "hr/x ev-1" {
		t.Errorf("attributes = %v, want the reason, its code and the event's key", attrs)
	}
}

func TestQueueUnavailableIsTransient(t *testing.T) {
	srv, q, _ := setup(t)
	srv.SetUnavailable(true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := q.Enqueue(ctx, engagement.Message{ID: "x", Group: "g", Body: []byte("{}")})
	if !fault.Is(err, fault.Transient) {
		t.Errorf("Enqueue while SQS is down = %v, want transient", err)
	}
}

func TestOpenRefusesAStandardQueue(t *testing.T) {
	_, err := sqs.Open(context.Background(), "STINT_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/stint-events")
	if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), "want a FIFO queue") {
		t.Errorf("Open(standard queue) = %v, want a refusal asking for FIFO", err)
	}
	var fe *fault.Error
	if !errors.As(err, &fe) {
		t.Error("not a fault.Error")
	}
}

// A contractor key longer than SQS allows a group id (an email may hold 254
// characters) still gets one group, of a length SQS takes.
func TestLongContractorKeysKeepOneGroup(t *testing.T) {
	srv, q, _ := setup(t)
	ctx := context.Background()
	key := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + ".example"
	for _, id := range []string{"hr/x 1", "hr/x 2"} {
		if err := q.Enqueue(ctx, engagement.Message{ID: id, Group: key, Body: []byte(id)}); err != nil {
			t.Fatalf("Enqueue for a %d-character key: %v", len(key), err)
		}
	}
	got := srv.Messages("events.fifo")
	if len(got) != 2 || got[0].GroupID != got[1].GroupID || len(got[0].GroupID) > 128 {
		t.Errorf("groups %q and %q; want one group id of at most 128 characters", got[0].GroupID, got[1].GroupID)
	}
}
