package sqsfake

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeFunction is a hand-written Invoker: it records every event and
// answers with handle's response.
type fakeFunction struct {
	mu     sync.Mutex
	events []events.SQSEvent
	handle func(events.SQSEvent) ([]byte, error)
}

var _ Invoker = (*fakeFunction)(nil).invoke

func (f *fakeFunction) invoke(_ context.Context, payload []byte) ([]byte, error) {
	var e events.SQSEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.events = append(f.events, e)
	f.mu.Unlock()
	return f.handle(e)
}

// seen counts how often each body was delivered.
func (f *fakeFunction) seen() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := map[string]int{}
	for _, e := range f.events {
		for _, r := range e.Records {
			n[r.Body]++
		}
	}
	return n
}

// reportFailures is a ReportBatchItemFailures response listing the records
// for which failed is true.
func reportFailures(e events.SQSEvent, failed func(events.SQSMessage) bool) []byte {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, r := range e.Records {
		if failed(r) {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	b, _ := json.Marshal(resp)
	return b
}

// runMapping sends messages with sendAll, runs a mapping invoking fn until
// the queue is empty and returns the mapping, stopped.
func runMapping(tb testing.TB, s *Server, queue string, fn Invoker, sendAll func(*sqs.Client, string)) *Mapping {
	tb.Helper()
	sendAll(newClient(s), s.queueURL(queue))
	m := s.StartMapping(queue, fn, MappingOptions{PollInterval: 5 * time.Millisecond})
	defer m.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.WaitIdle(ctx); err != nil {
		tb.Fatalf("WaitIdle: %v; queue %+v", err, s.Messages(queue))
	}
	return m
}

// sendBodies sends each body to a standard queue.
func sendBodies(tb testing.TB, bodies ...string) func(*sqs.Client, string) {
	return func(c *sqs.Client, u string) {
		entries := []types.SendMessageBatchRequestEntry{}
		for i, b := range bodies {
			entries = append(entries, types.SendMessageBatchRequestEntry{
				Id: aws.String(strings.Repeat("x", i+1)), MessageBody: aws.String(b),
				MessageAttributes: map[string]types.MessageAttributeValue{"source": {DataType: aws.String("String"), StringValue: aws.String("test")}},
			})
		}
		if _, err := c.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(u), Entries: entries}); err != nil {
			tb.Fatalf("SendMessageBatch: %v", err)
		}
	}
}

func TestMappingDeletesSuccessesAndRedeliversReportedFailures(t *testing.T) {
	s := newServer(t)
	mustCreate(t, s, "jobs", QueueOptions{VisibilityTimeout: 200 * time.Millisecond})
	f := &fakeFunction{handle: func(e events.SQSEvent) ([]byte, error) {
		return reportFailures(e, func(r events.SQSMessage) bool {
			return (r.Body == "m2" || r.Body == "m4") && r.Attributes["ApproximateReceiveCount"] == "1"
		}), nil
	}}
	m := runMapping(t, s, "jobs", f.invoke, sendBodies(t, "m1", "m2", "m3", "m4"))

	want := map[string]int{"m1": 1, "m2": 2, "m3": 1, "m4": 2}
	for body, n := range want {
		if got := f.seen()[body]; got != n {
			t.Errorf("%s delivered %d times, want %d", body, got, n)
		}
	}
	if got := m.Invocations(); got != 2 {
		t.Errorf("Invocations() = %d, want 2", got)
	}
	r := f.events[0].Records[0]
	if r.EventSource != "aws:sqs" || r.EventSourceARN != "arn:aws:sqs:us-east-1:000000000000:jobs" || r.AWSRegion != "us-east-1" ||
		r.Md5OfBody != md5Hex(r.Body) || r.ReceiptHandle == "" || r.Attributes["SentTimestamp"] == "" ||
		aws.ToString(r.MessageAttributes["source"].StringValue) != "test" || r.MessageAttributes["source"].DataType != "String" {
		t.Errorf("record = %+v, want Lambda's SQS record fields", r)
	}
}

func TestMappingFunctionErrorRedeliversWholeBatch(t *testing.T) {
	s := newServer(t)
	mustCreate(t, s, "jobs", QueueOptions{VisibilityTimeout: 200 * time.Millisecond})
	var queued []int
	f := &fakeFunction{}
	f.handle = func(e events.SQSEvent) ([]byte, error) {
		queued = append(queued, len(s.Messages("jobs")))
		if len(queued) == 1 {
			return nil, errors.New("Sandbox.Timedout")
		}
		return nil, nil
	}
	runMapping(t, s, "jobs", f.invoke, sendBodies(t, "a", "b", "c"))
	if got := f.seen(); got["a"] != 2 || got["b"] != 2 || got["c"] != 2 {
		t.Errorf("deliveries = %v, want every message twice", got)
	}
	if !slices.Equal(queued, []int{3, 3}) {
		t.Errorf("messages in the queue at each invocation = %v, want [3 3]: nothing deleted after the error", queued)
	}
	if got := f.events[1].Records[0].Attributes["ApproximateReceiveCount"]; got != "2" {
		t.Errorf("second delivery ApproximateReceiveCount = %s, want 2", got)
	}
}

func TestMappingPoisonMessageLandsInDLQ(t *testing.T) {
	s := newServer(t)
	mustCreate(t, s, "jobs-dlq", QueueOptions{})
	mustCreate(t, s, "jobs", QueueOptions{VisibilityTimeout: 100 * time.Millisecond, MaxReceiveCount: 3, DeadLetterQueue: "jobs-dlq"})
	f := &fakeFunction{handle: func(e events.SQSEvent) ([]byte, error) {
		return reportFailures(e, func(r events.SQSMessage) bool { return r.Body == "poison" }), nil
	}}
	runMapping(t, s, "jobs", f.invoke, sendBodies(t, "ok1", "poison", "ok2"))
	if got := f.seen(); got["poison"] != 3 || got["ok1"] != 1 || got["ok2"] != 1 {
		t.Errorf("deliveries = %v, want poison 3 times (maxReceiveCount), the others once", got)
	}
	dead := s.Messages("jobs-dlq")
	if len(dead) != 1 || dead[0].Body != "poison" || dead[0].MessageAttributes["source"] != "test" {
		t.Errorf("dead-letter queue = %+v, want the poison message with its attributes", dead)
	}
}

func TestMappingResponseRules(t *testing.T) {
	tests := []struct {
		name      string
		response  func(events.SQSEvent) []byte
		wantRetry bool // the whole batch delivered again
	}{
		{"empty response", func(events.SQSEvent) []byte { return nil }, false},
		{"null", func(events.SQSEvent) []byte { return []byte("null") }, false},
		{"empty object", func(events.SQSEvent) []byte { return []byte("{}") }, false},
		{"empty list", func(events.SQSEvent) []byte { return []byte(`{"batchItemFailures":[]}`) }, false},
		{"null list", func(events.SQSEvent) []byte { return []byte(`{"batchItemFailures":null}`) }, false},
		{"invalid JSON", func(events.SQSEvent) []byte { return []byte(`{"batchItemFailures":`) }, true},
		{"empty itemIdentifier", func(events.SQSEvent) []byte { return []byte(`{"batchItemFailures":[{"itemIdentifier":""}]}`) }, true},
		{"null itemIdentifier", func(events.SQSEvent) []byte { return []byte(`{"batchItemFailures":[{"itemIdentifier":null}]}`) }, true},
		{"misspelt key", func(e events.SQSEvent) []byte {
			return []byte(`{"batchItemFailures":[{"itemId":"` + e.Records[0].MessageId + `"}]}`)
		}, true},
		{"unknown message id", func(events.SQSEvent) []byte { return []byte(`{"batchItemFailures":[{"itemIdentifier":"nope"}]}`) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			mustCreate(t, s, "jobs", QueueOptions{VisibilityTimeout: 100 * time.Millisecond})
			f := &fakeFunction{}
			f.handle = func(e events.SQSEvent) ([]byte, error) {
				if len(f.events) == 1 {
					return tt.response(e), nil
				}
				return nil, nil
			}
			runMapping(t, s, "jobs", f.invoke, sendBodies(t, "a", "b"))
			want := 1
			if tt.wantRetry {
				want = 2
			}
			if got := f.seen(); got["a"] != want || got["b"] != want {
				t.Errorf("deliveries = %v, want each message %d time(s)", got, want)
			}
		})
	}
}

// TestMappingFIFOPartialFailureKeepsOrder runs a function that, as AWS
// advises for FIFO queues, stops at the first failure and reports it and
// every later message of the batch.
func TestMappingFIFOPartialFailureKeepsOrder(t *testing.T) {
	s := newServer(t)
	mustCreate(t, s, "events.fifo", QueueOptions{FIFO: true, VisibilityTimeout: 150 * time.Millisecond})
	var mu sync.Mutex
	processed := map[string][]string{}
	failedOnce := false
	f := &fakeFunction{handle: func(e events.SQSEvent) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		stop := false
		return reportFailures(e, func(r events.SQSMessage) bool {
			if !stop && r.Body == "a2" && !failedOnce {
				failedOnce, stop = true, true
			}
			if !stop {
				processed[r.Attributes["MessageGroupId"]] = append(processed[r.Attributes["MessageGroupId"]], r.Body)
			}
			return stop
		}), nil
	}}
	runMapping(t, s, "events.fifo", f.invoke, func(c *sqs.Client, u string) {
		for _, m := range []struct{ group, body string }{{"a", "a1"}, {"b", "b1"}, {"a", "a2"}, {"a", "a3"}, {"b", "b2"}} {
			fifoSend(t, c, u, m.group, m.body, m.body)
		}
	})
	if !slices.Equal(processed["a"], []string{"a1", "a2", "a3"}) || !slices.Equal(processed["b"], []string{"b1", "b2"}) {
		t.Errorf("processed = %v, want a1 a2 a3 and b1 b2 in order", processed)
	}
	if got := f.seen(); got["a2"] != 2 || got["a1"] != 1 {
		t.Errorf("deliveries = %v, want a2 again after its failure and a1 once", got)
	}
	r := f.events[0].Records[0]
	if r.Attributes["MessageGroupId"] != "a" || r.Attributes["MessageDeduplicationId"] != "a1" || r.Attributes["SequenceNumber"] == "" {
		t.Errorf("FIFO record attributes = %v, want MessageGroupId, MessageDeduplicationId and SequenceNumber", r.Attributes)
	}
}

func TestMappingStopAndUnavailable(t *testing.T) {
	s := newServer(t)
	u := mustCreate(t, s, "jobs", QueueOptions{})
	f := &fakeFunction{handle: func(events.SQSEvent) ([]byte, error) { return nil, nil }}
	c := newClient(s)
	send(t, c, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("x")})
	s.SetUnavailable(true)
	m := s.StartMapping("jobs", f.invoke, MappingOptions{PollInterval: 5 * time.Millisecond})
	defer m.Stop()
	time.Sleep(50 * time.Millisecond)
	if got := m.Invocations(); got != 0 {
		t.Errorf("Invocations() = %d while the queue is unavailable, want 0", got)
	}
	s.SetUnavailable(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.WaitIdle(ctx); err != nil || m.Invocations() != 1 {
		t.Fatalf("WaitIdle = %v with %d invocations, want the message processed once", err, m.Invocations())
	}
	m.Stop()
	send(t, c, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("y")})
	time.Sleep(50 * time.Millisecond)
	if got := m.Invocations(); got != 1 || len(s.Messages("jobs")) != 1 {
		t.Errorf("after Stop: %d invocations, %d messages; want 1 and the new message untouched", got, len(s.Messages("jobs")))
	}
}
