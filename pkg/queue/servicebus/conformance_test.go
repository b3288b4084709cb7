package servicebus_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/queue/queuetest"
	"github.com/stintdev/stint/pkg/queue/servicebus"
	sbtest "github.com/stintdev/stint/test/servicebus"
)

// transport is the Service Bus transport against the stand-in, over AMQP
// 1.0: a session queue with duplicate detection, a 2 s lock so that a dead
// consumer's session comes back quickly.
type transport struct {
	client *azservicebus.Client
	queue  *servicebus.Queue
}

func (tr transport) Send(ctx context.Context, m engagement.Message) error {
	return tr.queue.Enqueue(ctx, m)
}

func (tr transport) Consume(ctx context.Context, h queuetest.Handler) {
	c := &servicebus.Consumer{Client: tr.client, Queue: "events", Handle: h, Sessions: 4, Idle: 300 * time.Millisecond,
		MaxHold: 100 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go c.Run(ctx)
	<-ctx.Done()
}

func (tr transport) DeadLetters(ctx context.Context) ([]queuetest.DeadLetter, error) {
	dls, err := tr.queue.DeadLetters(ctx, 100)
	var out []queuetest.DeadLetter
	for _, d := range dls {
		out = append(out, queuetest.DeadLetter{ID: d.ID, Code: d.Code, Reason: d.Reason})
	}
	return out, err
}

func start(t *testing.T) (*sbtest.Server, *azservicebus.Client, *servicebus.Queue) {
	t.Helper()
	srv := sbtest.Start(t, sbtest.Options{Queues: []sbtest.QueueOptions{{Name: "events", RequiresSession: true, LockDuration: 2 * time.Second}}})
	client, err := servicebus.Connect(servicebus.Address{Queue: "events"}, srv.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(context.Background()) })
	q, err := servicebus.New(client, "events")
	if err != nil {
		t.Fatal(err)
	}
	return srv, client, q
}

func TestConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Transport {
		_, client, q := start(t)
		return transport{client: client, queue: q}
	})
}

// A dead message waits in the dead-letter queue with stint's code and
// reason; replayed, it is handled again; dropped, it is gone.
func TestDeadLettersReplayAndDrop(t *testing.T) {
	_, client, q := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fixed := make(chan struct{})
	handled := make(chan string, 10)
	c := &servicebus.Consumer{Client: client, Queue: "events", Idle: 200 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handle: func(_ context.Context, m engagement.Message) engagement.Verdict {
			select {
			case <-fixed:
				handled <- m.ID
				return engagement.Verdict{Outcome: engagement.Done}
			default:
				return engagement.Verdict{Outcome: engagement.Dead, Err: fault.Errorf(fault.Invalid, "access key %q is not allow-listed", "vpn")}
			}
		}}
	go c.Run(ctx)
	for _, id := range []string{"hr/x 1", "hr/x 2"} {
		if err := q.Enqueue(ctx, engagement.Message{ID: id, Digest: "d", Group: "ana@x.example", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	var dls []servicebus.DeadLetter
	for len(dls) < 2 && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		dls, _ = q.DeadLetters(ctx, 10)
	}
	if len(dls) != 2 || dls[0].ID != "hr/x 1" || dls[0].Code != "invalid" || dls[0].Contractor != "ana@x.example" || dls[0].Reason != `access key "vpn" is not allow-listed` {
		t.Fatalf("dead letters %+v, want both, with code, reason and contractor", dls)
	}
	close(fixed)
	if err := q.Replay(ctx, dls[0].Seq); err != nil {
		t.Fatal(err)
	}
	if got := <-handled; got != "hr/x 1" {
		t.Errorf("replayed %s, want hr/x 1", got)
	}
	if err := q.Drop(ctx, dls[1].Seq); err != nil {
		t.Fatal(err)
	}
	if left, _ := q.DeadLetters(ctx, 10); len(left) != 0 {
		t.Errorf("dead letters left: %+v", left)
	}
	if err := q.Drop(ctx, dls[1].Seq); !fault.Is(err, fault.NotFound) {
		t.Errorf("dropping it again: %v, want not found", err)
	}
}

// A connection string that is not one is refused naming the variable, and
// the secret in it is never shown.
func TestBadConnectionStringIsNamedNotShown(t *testing.T) {
	_, err := servicebus.Connect(servicebus.Address{Queue: "events"}, "SharedAccessKey=s3cret-key-value;Endpoint=nonsense", nil)
	if err == nil || !strings.Contains(err.Error(), "STINT_SERVICEBUS_CONNECTION") || strings.Contains(err.Error(), "s3cret-key-value") {
		t.Errorf("Connect with a bad connection string: %v; want the variable named and the key not shown", err)
	}
}
