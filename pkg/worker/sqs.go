package worker

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/fault"
)

// SQSHandler adapts a batch from SQS (FIFO, via Lambda's event source
// mapping with ReportBatchItemFailures) to HandleEvent.
//
//   - Messages of one contractor (MessageGroupId) are handled in order;
//     groups run concurrently, at most Concurrency at once.
//   - A transient failure is listed in BatchItemFailures, and so is every
//     later message of its group, unhandled, so that SQS redelivers them in
//     order.
//   - A permanent failure goes to the dead-letter queue with its reason and
//     is not listed (Lambda deletes it); if the dead-letter queue cannot take
//     it, it is listed instead, never dropped.
//   - A panic is recovered and counts as a transient failure of its message;
//     SQS's redrive policy moves a message that keeps failing to the
//     dead-letter queue after its maximum receive count.
//   - No message is started within the invocation's last moments (a tenth
//     of its time, at most 10 s): those left are listed for redelivery,
//     rather than cut off half-way when the function times out — which
//     would fail the whole batch.
type SQSHandler struct {
	Events      *Handler
	DeadLetters engagement.DeadLetters
	Concurrency int
	Log         *slog.Logger
}

// Handle is the Lambda entry point.
func (s *SQSHandler) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
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
		slots    = make(chan struct{}, max(s.Concurrency, 1))
		stop     = stopAt(ctx)
	)
	for _, group := range groups {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			for i, m := range group {
				if time.Now().Before(stop) && s.handle(ctx, m) {
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

// handle reports whether the message is done with (applied, or
// dead-lettered), as opposed to to be redelivered.
func (s *SQSHandler) handle(ctx context.Context, m events.SQSMessage) bool {
	msg := engagement.Message{ID: m.Attributes["MessageDeduplicationId"], Group: m.Attributes["MessageGroupId"], Body: []byte(m.Body)}
	return s.Events.Process(ctx, msg, s.DeadLetters) == nil
}

// Process handles one queued message, whatever the transport: it returns
// nil when the message is done with — applied, or sent to the dead letters
// because it can never succeed — and otherwise the error to retry it for.
// A panic is recovered and returned as a transient error.
func (h *Handler) Process(ctx context.Context, msg engagement.Message, dead engagement.DeadLetters) (retry error) {
	defer func() {
		if p := recover(); p != nil {
			h.Log.ErrorContext(ctx, "worker: panic handling a message; it will be redelivered", "message_id", msg.ID,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			retry = fault.Errorf(fault.Transient, "worker: panic: %v", p)
		}
	}()
	ev, err := event.Parse(msg.Body)
	if err == nil {
		msg.ID = ev.Key() // what the queue may have hashed
		_, err = h.HandleEvent(ctx, ev)
	} else {
		h.refusedUnparsed(ctx, msg, err)
	}
	if err == nil || !permanent(err) {
		return err
	}
	if dlqErr := dead.DeadLetter(ctx, msg, err); dlqErr != nil {
		h.Log.ErrorContext(ctx, "worker: dead-letter queue refused a message; it will be redelivered", "message_id", msg.ID, "error", dlqErr.Error())
		return fault.Wrap(fault.Transient, dlqErr)
	}
	h.Log.WarnContext(ctx, "worker: message dead-lettered", "event_id", msg.ID, "reason", err.Error())
	return nil
}

// permanent is the one table from fault codes to actions: what can never
// succeed goes to the dead-letter queue, the rest is retried.
func permanent(err error) bool {
	switch fault.CodeOf(err) {
	case fault.Invalid, fault.Unauthorized, fault.Conflict, fault.NotFound:
		return true
	}
	return false
}
