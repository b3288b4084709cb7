package sqsfake

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Invoker runs a function synchronously with one event, like Lambda's
// Invoke; for example a lambdart.Function's Invoke with a timeout bound in.
type Invoker func(ctx context.Context, payload []byte) ([]byte, error)

// MappingOptions configures an event source mapping.
type MappingOptions struct {
	BatchSize    int           // messages per invocation, 1 to 10; default 10
	PollInterval time.Duration // pause between empty polls; default 20ms
}

// Mapping drives a function from a queue the way AWS Lambda's SQS event
// source mapping does with FunctionResponseTypes = ["ReportBatchItemFailures"].
type Mapping struct {
	s           *Server
	queue       string
	invoke      Invoker
	opts        MappingOptions
	cancel      context.CancelFunc
	done        chan struct{}
	stopOnce    sync.Once
	invocations atomic.Int64
}

// StartMapping starts polling queueName and invoking invoke with batches of
// messages as events.SQSEvent. After an invocation it deletes the messages
// that succeeded: all of them when the function returns no
// batchItemFailures, none when the invocation fails (function error or
// timeout) or its response names an empty or unknown itemIdentifier or is
// not JSON, and otherwise all but the listed ones. What it does not delete
// becomes visible again when its visibility timeout expires; the queue's
// redrive policy moves poison messages to the dead-letter queue. On a FIFO
// queue the function is expected to list a failed message and every later
// one of its group, as AWS documents; the mapping deletes exactly what is
// not listed.
func (s *Server) StartMapping(queueName string, invoke Invoker, o MappingOptions) *Mapping {
	if o.BatchSize <= 0 || o.BatchSize > 10 {
		o.BatchSize = 10
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 20 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mapping{s: s, queue: queueName, invoke: invoke, opts: o, cancel: cancel, done: make(chan struct{})}
	go m.run(ctx)
	return m
}

// Stop stops polling and waits for the poller to end. An invocation in
// progress has its context cancelled; its messages are not deleted.
func (m *Mapping) Stop() {
	m.stopOnce.Do(m.cancel)
	<-m.done
}

// Invocations is how many times the function has been invoked.
func (m *Mapping) Invocations() int { return int(m.invocations.Load()) }

// WaitIdle returns nil once the queue is empty (nothing visible, in flight or
// delayed), or ctx's error when ctx ends first.
func (m *Mapping) WaitIdle(ctx context.Context) error {
	for {
		m.s.mu.Lock()
		q := m.s.queues[m.queue]
		empty := q == nil || len(q.msgs) == 0
		changed := m.s.changed
		m.s.mu.Unlock()
		if empty {
			return nil
		}
		timer := time.NewTimer(m.opts.PollInterval)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		timer.Stop()
	}
}

// run is the poller.
func (m *Mapping) run(ctx context.Context) {
	defer close(m.done)
	for {
		records := m.poll()
		if len(records) == 0 {
			select {
			case <-time.After(m.opts.PollInterval):
				continue
			case <-ctx.Done():
				return
			case <-m.s.closed:
				return
			}
		}
		payload, err := json.Marshal(events.SQSEvent{Records: records})
		if err != nil {
			panic("sqsfake: marshal SQSEvent: " + err.Error()) // cannot happen: plain strings and maps
		}
		m.invocations.Add(1)
		out, err := m.invoke(ctx, payload)
		if err != nil {
			continue // every message reappears after its visibility timeout
		}
		m.complete(records, out)
		if ctx.Err() != nil {
			return
		}
	}
}

// poll receives a batch as the mapping's poller does, unless the queue is
// missing or the server is unavailable.
func (m *Mapping) poll() []events.SQSMessage {
	if m.s.unavailable.Load() {
		return nil
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	q := m.s.queues[m.queue]
	if q == nil {
		return nil
	}
	var records []events.SQSMessage
	for _, msg := range m.s.receive(q, m.opts.BatchSize, q.cfg.visibility, time.Now()) {
		records = append(records, record(q, msg))
	}
	return records
}

// record renders msg as Lambda puts it in an SQS event.
func record(q *queue, msg *message) events.SQSMessage {
	attrs := map[string]events.SQSMessageAttribute{}
	for name, v := range msg.attrs {
		a := events.SQSMessageAttribute{DataType: v.DataType, StringListValues: []string{}, BinaryListValues: [][]byte{}}
		if v.StringValue != nil {
			s := *v.StringValue
			a.StringValue = &s
		}
		if v.BinaryValue != nil {
			a.BinaryValue = bytes.Clone(v.BinaryValue)
		}
		attrs[name] = a
	}
	return events.SQSMessage{
		MessageId:              msg.id,
		ReceiptHandle:          msg.receipt,
		Body:                   msg.body,
		Md5OfBody:              md5Hex(msg.body),
		Md5OfMessageAttributes: md5OfAttributes(msg.attrs),
		Attributes:             msg.systemAttributes(q.cfg.fifo),
		MessageAttributes:      attrs,
		EventSourceARN:         q.arn(),
		EventSource:            "aws:sqs",
		AWSRegion:              region,
	}
}

// complete deletes the records the function's response reports as
// processed.
func (m *Mapping) complete(records []events.SQSMessage, out []byte) {
	failed, ok := failures(records, out)
	if !ok {
		return // the whole batch counts as failed
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	q := m.s.queues[m.queue]
	if q == nil {
		return
	}
	now := time.Now()
	for _, r := range records {
		if !failed[r.MessageId] {
			// Like Lambda's DeleteMessageBatch: an expired receipt handle
			// (on FIFO) fails and the message is simply delivered again.
			m.s.deleteMessage(q, r.ReceiptHandle, now) //nolint:errcheck // see above
		}
	}
}

// failures reads a function response as an events.SQSEventResponse. ok is
// false when AWS treats the whole batch as failed: a response that is not
// valid JSON, or an itemIdentifier that is empty, null, misspelt or not a
// message of the batch. An empty or null response, an empty object and an
// empty or null batchItemFailures all mean complete success.
func failures(records []events.SQSMessage, out []byte) (map[string]bool, bool) {
	out = bytes.TrimSpace(out)
	if len(out) == 0 || string(out) == "null" {
		return nil, true
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, false
	}
	inBatch := map[string]bool{}
	for _, r := range records {
		inBatch[r.MessageId] = true
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		if !inBatch[f.ItemIdentifier] {
			return nil, false
		}
		failed[f.ItemIdentifier] = true
	}
	return failed, true
}
