// Package servicebus is stint's Azure Service Bus transport, on
// azservicebus: the webhook's sender, the worker's session consumer, and
// the dead-letter queue the operator commands read.
//
// A queue with sessions and duplicate detection: each message's SessionId
// is the contractor key, so one contractor's events are handled in order
// by one receiver at a time while other contractors' run concurrently; its
// MessageId is a SHA-256 of the event's key and digest (as on SQS), so the
// same event sent twice is dropped by the service, and another event
// reusing an id is not (the worker refuses it, with a reason).
package servicebus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Address is where a queue is: servicebus://<namespace>.servicebus.windows.net/<queue>.
type Address struct {
	Namespace string // the fully qualified namespace
	Queue     string
}

// ParseURL reads a queue URL; variable names the setting, for the error.
func ParseURL(variable, raw string) (Address, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "servicebus" || u.Host == "" || strings.Trim(u.Path, "/") == "" || strings.Contains(strings.Trim(u.Path, "/"), "/") {
		return Address{}, fault.Errorf(fault.Invalid, "%s %q: want servicebus://<namespace>.servicebus.windows.net/<queue>", variable, raw)
	}
	return Address{Namespace: u.Host, Queue: strings.Trim(u.Path, "/")}, nil
}

// Connect makes a client: with a connection string (SAS, or the local
// emulator's `…;UseDevelopmentEmulator=true`) when one is given, else with
// the credential (a managed identity in Azure, azidentity's chain).
func Connect(a Address, connectionString string, cred azcore.TokenCredential) (*azservicebus.Client, error) {
	if connectionString != "" {
		c, err := azservicebus.NewClientFromConnectionString(connectionString, nil)
		if err != nil {
			// The SDK's words may quote the string, key included: not shown.
			return nil, fault.Errorf(fault.Invalid, "STINT_SERVICEBUS_CONNECTION: not a Service Bus connection string (want Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…, or the emulator's ending UseDevelopmentEmulator=true)")
		}
		return c, nil
	}
	if cred == nil {
		return nil, fault.Errorf(fault.Invalid, "Service Bus %s: no credential: set STINT_SERVICEBUS_CONNECTION, or run with a managed identity", a.Namespace)
	}
	var opts *azservicebus.ClientOptions
	if host, _, err := net.SplitHostPort(a.Namespace); err == nil {
		// azservicebus would verify the certificate for "host:port",
		// which no certificate names: TLS verifies the host.
		opts = &azservicebus.ClientOptions{TLSConfig: &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}}
	}
	return azservicebus.NewClient(a.Namespace, cred, opts)
}

// Queue sends events to a session queue and reads its dead letters.
type Queue struct {
	client *azservicebus.Client
	sender *azservicebus.Sender
	name   string
}

// New opens the queue name on client.
func New(client *azservicebus.Client, name string) (*Queue, error) {
	s, err := client.NewSender(name, nil)
	if err != nil {
		return nil, fmt.Errorf("service bus: sender for %s: %w", name, err)
	}
	return &Queue{client: client, sender: s, name: name}, nil
}

// Close closes the sender.
func (q *Queue) Close(ctx context.Context) error { return q.sender.Close(ctx) }

// Enqueue sends m; when it returns nil, Service Bus holds the message.
func (q *Queue) Enqueue(ctx context.Context, m engagement.Message) error {
	err := q.sender.SendMessage(ctx, &azservicebus.Message{
		Body:                  m.Body,
		MessageID:             ptr(engagement.DedupID(m.ID, m.Digest)),
		SessionID:             ptr(engagement.GroupID(m.Group)),
		ApplicationProperties: map[string]any{"stint-event-key": m.ID},
	}, nil)
	return classify(err, "send "+m.ID)
}

// DeadLetter is a message in the dead-letter queue.
type DeadLetter struct {
	Seq        int64  `json:"seq"`
	ID         string `json:"id"`
	Contractor string `json:"contractor"`
	Code       string `json:"code"`
	Reason     string `json:"reason"`
	// Attempts is how many times it was delivered; EnqueuedAt when it was
	// first enqueued.
	Attempts   int       `json:"attempts"`
	EnqueuedAt time.Time `json:"enqueuedAt"`
	Body       []byte    `json:"body"`
}

// DeadLetters peeks at the dead-letter queue, oldest first (up to max).
func (q *Queue) DeadLetters(ctx context.Context, max int) ([]DeadLetter, error) {
	r, err := q.client.NewReceiverForQueue(q.name, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		return nil, classify(err, "open the dead-letter queue")
	}
	defer r.Close(context.WithoutCancel(ctx))
	msgs, err := r.PeekMessages(ctx, max, nil)
	if err != nil {
		return nil, classify(err, "peek the dead-letter queue")
	}
	out := make([]DeadLetter, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, deadLetter(m))
	}
	return out, nil
}

// Replay sends the dead letter seq back to the queue and removes it from
// the dead letters; Drop removes it. The copy is sent before the original
// is completed: a crash in between leaves both, and the worker sees the
// event twice, which it handles once.
func (q *Queue) Replay(ctx context.Context, seq int64) error { return q.take(ctx, seq, true) }

// Drop removes the dead letter seq.
func (q *Queue) Drop(ctx context.Context, seq int64) error { return q.take(ctx, seq, false) }

func (q *Queue) take(ctx context.Context, seq int64, replay bool) error {
	// A dead letter another receiver holds (one that closed with it in
	// flight) comes back when its lock ends: look again until then.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := q.takeOnce(ctx, seq, replay)
		if !fault.Is(err, fault.NotFound) || time.Now().After(deadline) {
			return err
		}
		still, perr := q.DeadLetters(ctx, 1000)
		if perr != nil || !slices.ContainsFunc(still, func(d DeadLetter) bool { return d.Seq == seq }) {
			return err
		}
		if pause(ctx, time.Second); ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// takeOnce receives dead letters one at a time (so that no credit is left
// outstanding for a message to arrive at after the receiver closes),
// holding the others locked, until it finds seq.
func (q *Queue) takeOnce(ctx context.Context, seq int64, replay bool) error {
	r, err := q.client.NewReceiverForQueue(q.name, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		return classify(err, "open the dead-letter queue")
	}
	defer r.Close(context.WithoutCancel(ctx))
	var held []*azservicebus.ReceivedMessage // locked while we look further
	defer func() {
		for _, m := range held {
			r.AbandonMessage(context.WithoutCancel(ctx), m, nil)
		}
	}()
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		msgs, err := r.ReceiveMessages(rctx, 1, nil)
		cancel()
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			return classify(err, "receive from the dead-letter queue")
		}
		if len(msgs) == 0 {
			return fault.Errorf(fault.NotFound, "no dead letter %d", seq)
		}
		m := msgs[0]
		if m.SequenceNumber == nil || *m.SequenceNumber != seq {
			held = append(held, m)
			continue
		}
		if replay {
			d := deadLetter(m)
			// A digest of its own: the service's duplicate detection must
			// not drop a replay of an event replayed before.
			copy := engagement.Message{ID: d.ID, Digest: fmt.Sprintf("replay %d", seq), Group: d.Contractor, Body: m.Body}
			if err := q.Enqueue(ctx, copy); err != nil {
				held = append(held, m)
				return err
			}
		}
		return classify(r.CompleteMessage(ctx, m, nil), fmt.Sprintf("remove dead letter %d", seq))
	}
}

func deadLetter(m *azservicebus.ReceivedMessage) DeadLetter {
	d := DeadLetter{ID: m.MessageID, Body: m.Body, Attempts: int(m.DeliveryCount)}
	if m.EnqueuedTime != nil {
		d.EnqueuedAt = *m.EnqueuedTime
	}
	if key, ok := m.ApplicationProperties["stint-event-key"].(string); ok {
		d.ID = key
	}
	if m.SequenceNumber != nil {
		d.Seq = *m.SequenceNumber
	}
	if m.SessionID != nil {
		d.Contractor = *m.SessionID
	}
	if m.DeadLetterReason != nil {
		d.Code = *m.DeadLetterReason
	}
	if m.DeadLetterErrorDescription != nil {
		d.Reason = *m.DeadLetterErrorDescription
	}
	return d
}

// classify gives Service Bus's errors stint's codes.
func classify(err error, op string) error {
	if err == nil {
		return nil
	}
	var sb *azservicebus.Error
	if errors.As(err, &sb) {
		switch sb.Code {
		case azservicebus.CodeUnauthorizedAccess:
			return fault.Errorf(fault.Unauthorized, "service bus: %s: not authorized (check STINT_SERVICEBUS_CONNECTION, or give the identity the Azure Service Bus Data Sender/Receiver role): %v", op, err)
		case azservicebus.CodeNotFound:
			return fault.Errorf(fault.Invalid, "service bus: %s: the queue does not exist (check STINT_QUEUE_URL): %v", op, err)
		}
	}
	return fault.Wrap(fault.Transient, fmt.Errorf("service bus: %s: %w", op, err))
}

func ptr[T any](v T) *T { return &v }
