package embedded_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/queue/embedded"
	"github.com/stintdev/stint/pkg/queue/queuetest"
)

type transport struct{ q *embedded.Queue }

func (tr transport) Send(ctx context.Context, m engagement.Message) error {
	return tr.q.Enqueue(ctx, m)
}

func (tr transport) Consume(ctx context.Context, h queuetest.Handler) {
	c := &embedded.Consumer{Queue: tr.q, Handle: h, Handling: 500 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go c.Run(ctx)
	<-ctx.Done()
}

func (tr transport) DeadLetters(ctx context.Context) ([]queuetest.DeadLetter, error) {
	dls, err := tr.q.DeadLetters(ctx)
	var out []queuetest.DeadLetter
	for _, d := range dls {
		out = append(out, queuetest.DeadLetter{ID: d.ID, Code: d.Code, Reason: d.Reason})
	}
	return out, err
}

// TestConformance runs the queue conformance suite on each database the
// queue runs on, each test on a fresh database.
func TestConformance(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		queuetest.Run(t, func(t *testing.T) queuetest.Transport {
			return transport{open(t, b, embedded.Options{Visibility: time.Second, Backoff: 50 * time.Millisecond})}
		})
	})
}
