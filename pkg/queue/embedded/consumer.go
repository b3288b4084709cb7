package embedded

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Consumer takes messages from the queue and settles them the embedded
// queue's way: done is acknowledged; retry is hidden for a backoff (at
// least the wait Graph asked for), and dead-lettered after MaxAttempts;
// dead goes to the dead-letter list with its code and reason.
type Consumer struct {
	Queue  *Queue
	Handle func(context.Context, engagement.Message) engagement.Verdict
	// Workers is how many messages are handled at once (default 1).
	Workers int
	// Handling bounds the work on one message; keep it well inside the
	// lease (Options.Visibility), so that no second worker takes a message
	// still in hand.
	Handling time.Duration
	Log      *slog.Logger
	// Settled, when set, receives the id of each message acknowledged
	// (dropped when nobody reads it).
	Settled chan<- string
	// DeadLettered, when set, is told the stint code of each message
	// moved to the dead letters: one the handler said can never succeed,
	// or one out of attempts (transient). For metrics.
	DeadLettered func(code fault.Code)
}

// Run takes messages until ctx ends, up to Workers (at least one) in hand
// at once. One receiver asks the queue for as many messages as there are
// idle workers, and waits for the queue to change when there are none (no
// polling): a change wakes that one receiver, not every idle worker, so
// the number of workers adds nothing to what waiting costs the database.
// A message in hand is finished
// with a context of its own, so shutdown never cuts one halfway; Run
// returns once every one is settled.
func (c *Consumer) Run(ctx context.Context) {
	q := c.Queue
	idle := make(chan struct{}, max(c.Workers, 1))
	for range cap(idle) {
		idle <- struct{}{}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		select {
		case <-idle:
		case <-ctx.Done():
			return
		}
		free := 1
		for more := true; more; {
			select {
			case <-idle:
				free++
			default:
				more = false
			}
		}
		changed := q.Changed()
		msgs, err := q.Receive(ctx, free)
		for range free - len(msgs) {
			idle <- struct{}{}
		}
		if err != nil {
			// The database refuses the lease (full, read-only, failing
			// over) while the messages stay visible: try again in a while,
			// not at once.
			if ctx.Err() == nil {
				c.Log.Error("embedded queue: receive failed; trying again in a second", "error", err.Error())
			}
			select {
			case <-ctx.Done():
			case <-time.After(receiveRetry):
			}
			continue
		}
		for _, m := range msgs {
			wg.Go(func() {
				defer func() { idle <- struct{}{} }()
				mctx, cancel := context.WithTimeout(context.Background(), c.Handling)
				defer cancel()
				c.settle(mctx, m)
			})
		}
		if len(msgs) < free { // nothing more is visible until the queue changes
			q.Wait(ctx, changed)
		}
	}
}

// receiveRetry is how long the receiver waits after a failed Receive.
const receiveRetry = time.Second

func (c *Consumer) settle(ctx context.Context, m Message) {
	v := c.Handle(ctx, m.Message)
	switch v.Outcome {
	case engagement.Done:
		if err := c.Queue.Ack(ctx, m.ID); err != nil {
			c.Log.Error("embedded queue: could not acknowledge a message; it will be seen again as a duplicate", "id", m.ID, "error", err.Error())
			return
		}
		if c.Settled != nil {
			select {
			case c.Settled <- m.ID:
			default:
			}
		}
	case engagement.Dead:
		if err := c.Queue.DeadLetter(ctx, m.Message, v.Err); err != nil {
			c.Log.Error("embedded queue: could not dead-letter a message; its lease will bring it back", "id", m.ID, "error", err.Error())
			return
		}
		c.deadLettered(v.Code())
	default:
		if err := c.Queue.Retry(ctx, m, v.Err); err != nil {
			c.Log.Error("embedded queue: could not reschedule a message; its lease will bring it back", "id", m.ID, "error", err.Error())
			return
		}
		if m.Attempts >= c.Queue.o.MaxAttempts { // Retry moved it to the dead letters
			c.deadLettered(v.Code())
		}
	}
}

func (c *Consumer) deadLettered(code fault.Code) {
	if c.DeadLettered != nil {
		c.DeadLettered(code)
	}
}
