package sqs_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/queue/queuetest"
	"github.com/stintdev/stint/pkg/queue/sqs"
	"github.com/stintdev/stint/test/sqsfake"
)

// transport is SQS as deployed: a FIFO queue, its dead-letter queue, and
// the consumer behind an event source mapping (ReportBatchItemFailures),
// all over SQS's JSON protocol.
type transport struct {
	srv    *sqsfake.Server
	events *sqs.Queue
	dlq    *sqs.Queue
}

func (tr transport) Send(ctx context.Context, m engagement.Message) error {
	return tr.events.Enqueue(ctx, m)
}

func (tr transport) Consume(ctx context.Context, h queuetest.Handler) {
	c := &sqs.Consumer{Handle: h, DeadLetters: tr.dlq, Concurrency: 4, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	m := tr.srv.StartMapping("events.fifo", func(ctx context.Context, payload []byte) ([]byte, error) {
		var batch events.SQSEvent
		if err := json.Unmarshal(payload, &batch); err != nil {
			return nil, err
		}
		resp, err := c.Consume(ctx, batch)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}, sqsfake.MappingOptions{})
	<-ctx.Done()
	go m.Stop() // a hung invocation is abandoned, as when the function dies
}

func (tr transport) DeadLetters(ctx context.Context) ([]queuetest.DeadLetter, error) {
	var out []queuetest.DeadLetter
	for _, m := range tr.srv.Messages("dlq.fifo") {
		out = append(out, queuetest.DeadLetter{ID: m.MessageAttributes["stint-event-key"], Code: m.MessageAttributes["stint-code"], Reason: m.MessageAttributes["stint-reason"]})
	}
	return out, nil
}

func TestConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Transport {
		srv, events, dlq := setupWith(t, sqsfake.QueueOptions{FIFO: true, VisibilityTimeout: time.Second})
		return transport{srv: srv, events: events, dlq: dlq}
	})
}
