package cli

import (
	"context"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/queue/embedded"
	"github.com/stintdev/stint/pkg/queue/servicebus"
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
	a, err := servicebus.ParseURL("STINT_QUEUE_URL", g.cfg.QueueURL)
	if err != nil {
		return nil, err
	}
	var client *azservicebus.Client
	if g.cfg.ServiceBusConnection == "" {
		cred, err := entra.Credential(g.cfg.Tenant, nil)
		if err != nil {
			return nil, err
		}
		client, err = servicebus.Connect(a, "", cred)
		if err != nil {
			return nil, err
		}
	} else if client, err = servicebus.Connect(a, g.cfg.ServiceBusConnection, nil); err != nil {
		return nil, err
	}
	q, err := servicebus.New(client, a.Queue)
	if err != nil {
		client.Close(ctx)
		return nil, err
	}
	return serviceBusDLQ{q: q, client: client}, nil
}

type embeddedDLQ struct {
	*embedded.Queue
	l *sqlite.Ledger
}

func (e embeddedDLQ) Close() error { return e.l.Close() }

type serviceBusDLQ struct {
	q      *servicebus.Queue
	client *azservicebus.Client
}

// DeadLetters reads the dead-letter queue (the first 1,000) in the
// embedded list's shape.
func (s serviceBusDLQ) DeadLetters(ctx context.Context) ([]embedded.DeadLetter, error) {
	dls, err := s.q.DeadLetters(ctx, 1000)
	out := make([]embedded.DeadLetter, 0, len(dls))
	for _, d := range dls {
		out = append(out, embedded.DeadLetter{Seq: d.Seq, ID: d.ID, Group: d.Contractor, Attempts: d.Attempts, Reason: d.Reason, Code: d.Code, At: d.EnqueuedAt, Body: string(d.Body)})
	}
	return out, err
}

func (s serviceBusDLQ) Replay(ctx context.Context, seq int64) error { return s.q.Replay(ctx, seq) }
func (s serviceBusDLQ) Drop(ctx context.Context, seq int64) error   { return s.q.Drop(ctx, seq) }

func (s serviceBusDLQ) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.client.Close(ctx)
}
