package servicebus

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/worker"
)

// Consumer is the worker's side: it accepts the next session with
// messages (a contractor), handles that contractor's messages in order,
// and settles each the Service Bus way:
//
//   - done: complete;
//   - dead: dead-letter, with DeadLetterReason the stint code and
//     DeadLetterErrorDescription the reason;
//   - retry: Service Bus cannot delay an abandoned message, so the consumer
//     holds the session — renewing its lock — for the wait Graph asked for,
//     or worker.Backoff of the delivery count when it named none (at most
//     MaxHold), then abandons the message, which comes straight back, first
//     in its session. The contractor's later messages wait behind it, as
//     they must. After the queue's MaxDeliveryCount deliveries Service Bus
//     dead-letters it by its own rule (MaxDeliveryCountExceeded).
//
// While a message is handled the session lock is renewed, so long work
// does not lose it. A consumer that dies releases nothing: its session
// lock expires, and the message in hand is delivered again.
type Consumer struct {
	Client *azservicebus.Client
	Queue  string
	Handle func(context.Context, engagement.Message) engagement.Verdict
	// Sessions is how many contractors are handled at once (default 8).
	Sessions int
	// Idle is how long a session is kept once it has no message (default
	// 1 s): then it is closed, for another contractor.
	Idle time.Duration
	// MaxHold bounds the wait before abandoning a retry (default 5 min).
	MaxHold time.Duration
	// Handling bounds the work on one message (default 50 s). A handler's
	// hold on a contractor lasts no longer, so after a crash the message,
	// back once the session lock expires, is taken over that soon.
	Handling time.Duration
	Log      *slog.Logger
}

// Run handles sessions until ctx ends.
func (c *Consumer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range max(c.Sessions, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c.session(ctx)
			}
		}()
	}
	wg.Wait()
}

// session accepts the next session with messages and handles them until
// it has none for Idle.
func (c *Consumer) session(ctx context.Context) {
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	sr, err := c.Client.AcceptNextSessionForQueue(actx, c.Queue, nil)
	cancel()
	if err != nil {
		var sb *azservicebus.Error
		if ctx.Err() == nil && !(errors.As(err, &sb) && sb.Code == azservicebus.CodeTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			c.Log.Error("service bus: accept a session failed", "queue", c.Queue, "error", err.Error())
			pause(ctx, time.Second)
		}
		return
	}
	defer sr.Close(context.WithoutCancel(ctx))
	idle := c.Idle
	if idle <= 0 {
		idle = time.Second
	}
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, idle)
		msgs, err := sr.ReceiveMessages(rctx, 1, nil)
		cancel()
		if len(msgs) == 0 {
			if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
				c.Log.Error("service bus: receive failed", "session", sr.SessionID(), "error", err.Error())
			}
			return
		}
		if !c.settle(ctx, sr, msgs[0]) {
			return // the session lock is gone: let it go
		}
	}
}

// settle handles one message and settles it; false when the session can
// no longer be used.
func (c *Consumer) settle(ctx context.Context, sr *azservicebus.SessionReceiver, m *azservicebus.ReceivedMessage) bool {
	stop := c.keepLock(ctx, sr)
	msg := engagement.Message{ID: m.MessageID, Group: sr.SessionID(), Body: m.Body}
	if key, ok := m.ApplicationProperties["stint-event-key"].(string); ok {
		msg.ID = key
	}
	handling := c.Handling
	if handling <= 0 {
		handling = 50 * time.Second
	}
	hctx, cancel := context.WithTimeout(ctx, handling)
	v := c.Handle(hctx, msg)
	cancel()
	if v.Outcome == engagement.Retry {
		hold := v.Wait
		if hold <= 0 {
			hold = worker.Backoff(int(m.DeliveryCount))
		}
		maxHold := c.MaxHold
		if maxHold <= 0 {
			maxHold = 5 * time.Minute
		}
		hold = min(hold, maxHold)
		c.Log.Warn("service bus: a transient failure; the message is abandoned after the wait and comes back", "session", sr.SessionID(),
			"message_id", m.MessageID, "delivery_count", m.DeliveryCount, "wait", hold.String(), "error", v.Reason())
		pause(ctx, hold)
	}
	stop()
	sctx := context.WithoutCancel(ctx)
	var err error
	switch v.Outcome {
	case engagement.Done:
		err = sr.CompleteMessage(sctx, m, nil)
	case engagement.Dead:
		err = sr.DeadLetterMessage(sctx, m, &azservicebus.DeadLetterOptions{Reason: ptr(string(v.Code())), ErrorDescription: ptr(truncate(v.Reason(), 4096))})
	default:
		err = sr.AbandonMessage(sctx, m, nil)
	}
	if err != nil {
		c.Log.Error("service bus: could not settle a message; it comes back when the session lock ends", "session", sr.SessionID(), "message_id", m.MessageID, "outcome", string(v.Outcome), "error", err.Error())
		return false
	}
	return true
}

// keepLock renews the session lock while a message is handled, halfway
// to its expiry each time; stop ends it.
func (c *Consumer) keepLock(ctx context.Context, sr *azservicebus.SessionReceiver) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			wait := max(time.Until(sr.LockedUntil())/2, 100*time.Millisecond)
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			if err := sr.RenewSessionLock(ctx, nil); err != nil {
				c.Log.Warn("service bus: could not renew a session lock", "session", sr.SessionID(), "error", err.Error())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
