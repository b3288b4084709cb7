package cli

import (
	"context"

	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/queue/embedded"
)

// deadLetterQueue is where stint dlq works: the embedded queue's
// dead-letter list, or the Service Bus queue's dead-letter queue when
// STINT_QUEUE_URL names one.
type deadLetterQueue interface {
	DeadLetters(ctx context.Context) ([]embedded.DeadLetter, error)
	Replay(ctx context.Context, seq int64) error
	Drop(ctx context.Context, seq int64) error
	Close() error
}

func (g *globals) deadLetters(ctx context.Context) (deadLetterQueue, error) {
	if g.cfg.QueueURL == "" {
		l, q, err := g.ledger(ctx)
		if err != nil {
			return nil, err
		}
		return embeddedDLQ{q, l}, nil
	}
	sb, err := host.OpenServiceBus(g.cfg)
	if err != nil {
		return nil, err
	}
	return serviceBusDLQ{sb}, nil
}

type embeddedDLQ struct {
	*embedded.Queue
	l host.Store
}

func (e embeddedDLQ) Close() error { return e.l.Close() }

// serviceBusDLQ is the Service Bus queue's dead-letter queue.
type serviceBusDLQ struct{ *host.ServiceBus }

// DeadLetters reads the dead-letter queue (the first 1,000) in the
// embedded list's shape.
func (s serviceBusDLQ) DeadLetters(ctx context.Context) ([]embedded.DeadLetter, error) {
	dls, err := s.ServiceBus.DeadLetters(ctx, 1000)
	out := make([]embedded.DeadLetter, 0, len(dls))
	for _, d := range dls {
		out = append(out, embedded.DeadLetter{Seq: d.Seq, ID: d.ID, Group: d.Contractor, Attempts: d.Attempts, Reason: d.Reason, Code: d.Code, At: d.EnqueuedAt, Body: string(d.Body)})
	}
	return out, err
}
