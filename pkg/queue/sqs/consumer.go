package sqs

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stintdev/stint/pkg/engagement"
)

// Consumer takes a batch from SQS (FIFO, through Lambda's event source
// mapping with ReportBatchItemFailures), has Handle judge each message,
// and settles them the SQS way:
//
//   - Messages of one contractor (MessageGroupId) are handled in order;
//     groups run concurrently, at most Concurrency at once.
//   - Done: not listed, so Lambda deletes it.
//   - Retry: listed in BatchItemFailures, and so is every later message of
//     its group, unhandled, so that SQS redelivers them in order after the
//     visibility timeout (SQS cannot honour a shorter or longer wait per
//     message; the redrive policy moves a message that keeps failing to
//     the dead-letter queue after its maximum receive count).
//   - Dead: sent to the dead-letter queue with its code and reason, and not
//     listed; if the dead-letter queue cannot take it, it is listed
//     instead, never dropped.
//   - No message is started within the invocation's last moments (a tenth
//     of its time, at most 10 s): those left are listed for redelivery,
//     rather than cut off half-way when the function times out — which
//     would fail the whole batch.
type Consumer struct {
	Handle      func(context.Context, engagement.Message) engagement.Verdict
	DeadLetters engagement.DeadLetters
	Concurrency int
	Log         *slog.Logger
}

// Consume is the Lambda entry point.
func (c *Consumer) Consume(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	var groups [][]events.SQSMessage
	index := map[string]int{}
	for _, m := range batch.Records {
		g := m.Attributes["MessageGroupId"]
		if g == "" {
			g = m.MessageId // a standard queue: no order to keep
		}
		i, ok := index[g]
		if !ok {
			i, index[g] = len(groups), len(groups)
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], m)
	}
	var (
		mu       sync.Mutex
		failures []events.SQSBatchItemFailure
		wg       sync.WaitGroup
		slots    = make(chan struct{}, max(c.Concurrency, 1))
		stop     = stopAt(ctx)
	)
	for _, group := range groups {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			for i, m := range group {
				if time.Now().Before(stop) && c.settle(ctx, m) {
					continue
				}
				mu.Lock()
				for _, rest := range group[i:] {
					failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: rest.MessageId})
				}
				mu.Unlock()
				return
			}
		}()
	}
	wg.Wait()
	return events.SQSEventResponse{BatchItemFailures: failures}, nil
}

// stopAt is when no new message may start: a tenth of the invocation's
// time before its deadline, at most 10 s (never, without a deadline).
func stopAt(ctx context.Context) time.Time {
	deadline, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(24 * time.Hour)
	}
	return deadline.Add(-min(time.Until(deadline)/10, 10*time.Second))
}

// settle reports whether the message is done with (applied, or
// dead-lettered), as opposed to to be redelivered.
func (c *Consumer) settle(ctx context.Context, m events.SQSMessage) bool {
	msg := engagement.Message{ID: m.Attributes["MessageDeduplicationId"], Group: m.Attributes["MessageGroupId"], Body: []byte(m.Body)}
	v := c.Handle(ctx, msg)
	switch v.Outcome {
	case engagement.Done:
		return true
	case engagement.Dead:
		if v.Key != "" {
			msg.ID = v.Key
		}
		if err := c.DeadLetters.DeadLetter(ctx, msg, v.Err); err != nil {
			c.Log.ErrorContext(ctx, "sqs: the dead-letter queue refused a message; it will be redelivered", "message_id", m.MessageId, "error", err.Error())
			return false
		}
		return true
	}
	return false
}
