package embedded_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
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

func TestConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Transport {
		l, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "stint.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		q, err := embedded.Open(context.Background(), l.DB(), embedded.Options{Visibility: time.Second, Backoff: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return transport{q}
	})
}
