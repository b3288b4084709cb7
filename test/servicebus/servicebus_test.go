package servicebus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"
)

// These tests drive the stand-in with azservicebus, the SDK stint uses, and
// check what it sees against Service Bus's documented behaviour.

func newClient(tb testing.TB, sb *Server) *azservicebus.Client {
	tb.Helper()
	c, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), &azservicebus.ClientOptions{
		// No retries: a failure shows at once rather than after backoff.
		RetryOptions: azservicebus.RetryOptions{MaxRetries: -1},
	})
	if err != nil {
		tb.Fatalf("NewClientFromConnectionString: %v", err)
	}
	tb.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func send(tb testing.TB, c *azservicebus.Client, queue string, msgs ...*azservicebus.Message) {
	tb.Helper()
	s, err := c.NewSender(queue, nil)
	if err != nil {
		tb.Fatalf("NewSender(%s): %v", queue, err)
	}
	defer s.Close(context.Background())
	for _, m := range msgs {
		if err := s.SendMessage(testContext(tb), m, nil); err != nil {
			tb.Fatalf("SendMessage(%s): %v", queue, err)
		}
	}
}

func msg(session, id, body string) *azservicebus.Message {
	m := &azservicebus.Message{Body: []byte(body), MessageID: &id}
	if session != "" {
		m.SessionID = &session
	}
	return m
}

func receive(tb testing.TB, r interface {
	ReceiveMessages(context.Context, int, *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
}, n int) []*azservicebus.ReceivedMessage {
	tb.Helper()
	var got []*azservicebus.ReceivedMessage
	for len(got) < n {
		ms, err := r.ReceiveMessages(testContext(tb), n-len(got), nil)
		if err != nil {
			tb.Fatalf("ReceiveMessages: %v (after %d of %d)", err, len(got), n)
		}
		got = append(got, ms...)
	}
	return got
}

func ids(ms []*azservicebus.ReceivedMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.MessageID)
	}
	return out
}

func code(err error) azservicebus.Code {
	var sbErr *azservicebus.Error
	if errors.As(err, &sbErr) {
		return sbErr.Code
	}
	return ""
}

func condition(err error) amqp.ErrCond {
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) {
		return amqpErr.Condition
	}
	return ""
}

func TestSessionQueueRoundTrip(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}})
	c := newClient(t, sb)
	ctx := testContext(t)

	first := msg("eng-1", "m1", "one")
	first.ApplicationProperties = map[string]any{"attempt": int64(3), "kind": "started", "ok": true, "ratio": 0.5}
	send(t, c, "events", first, msg("eng-1", "m2", "two"), msg("eng-1", "m3", "three"))

	r, err := c.AcceptNextSessionForQueue(ctx, "events", nil)
	if err != nil {
		t.Fatalf("AcceptNextSessionForQueue: %v", err)
	}
	if got, want := r.SessionID(), "eng-1"; got != want {
		t.Errorf("SessionID() = %q, want %q", got, want)
	}
	if !r.LockedUntil().After(time.Now()) {
		t.Errorf("LockedUntil() = %v, want a time to come", r.LockedUntil())
	}

	got := receive(t, r, 3)
	if fmt.Sprint(ids(got)) != "[m1 m2 m3]" {
		t.Fatalf("received %v, want [m1 m2 m3] (the order of the session)", ids(got))
	}
	m := got[0]
	if string(m.Body) != "one" || m.SessionID == nil || *m.SessionID != "eng-1" || m.DeliveryCount != 1 {
		t.Errorf("first message = body %q session %v delivery count %d, want one, eng-1, 1", m.Body, m.SessionID, m.DeliveryCount)
	}
	for k, want := range first.ApplicationProperties {
		if got := m.ApplicationProperties[k]; got != want {
			t.Errorf("ApplicationProperties[%s] = %#v (%T), want %#v (%T)", k, got, got, want, want)
		}
	}
	if m.SequenceNumber == nil || *got[1].SequenceNumber <= *m.SequenceNumber {
		t.Errorf("sequence numbers %v, %v: want increasing", m.SequenceNumber, got[1].SequenceNumber)
	}
	if m.EnqueuedTime == nil || m.LockedUntil == nil || !m.LockedUntil.After(*m.EnqueuedTime) {
		t.Errorf("EnqueuedTime %v, LockedUntil %v: want both, the lock after the enqueue", m.EnqueuedTime, m.LockedUntil)
	}
	if m.LockToken == [16]byte{} {
		t.Error("LockToken is empty")
	}
	for _, m := range got {
		if err := r.CompleteMessage(ctx, m, nil); err != nil {
			t.Fatalf("CompleteMessage(%s): %v", m.MessageID, err)
		}
	}
	left, err := r.PeekMessages(ctx, 10, nil)
	if err != nil {
		t.Fatalf("PeekMessages: %v", err)
	}
	if len(left) != 0 {
		t.Errorf("after completing all, peek found %v", ids(left))
	}
}

func TestAbandonRaisesDeliveryCount(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}})
	c := newClient(t, sb)
	ctx := testContext(t)
	send(t, c, "events", msg("s", "m1", "one"), msg("s", "m2", "two"))

	r, err := c.AcceptNextSessionForQueue(ctx, "events", nil)
	if err != nil {
		t.Fatalf("AcceptNextSessionForQueue: %v", err)
	}
	m := receive(t, r, 1)[0]
	if err := r.AbandonMessage(ctx, m, nil); err != nil {
		t.Fatalf("AbandonMessage: %v", err)
	}
	again := receive(t, r, 1)[0]
	if again.MessageID != "m1" || again.DeliveryCount != 2 {
		t.Errorf("after abandon got %s with delivery count %d, want m1 (first in the session) with 2", again.MessageID, again.DeliveryCount)
	}
	if again.LockToken == m.LockToken {
		t.Error("the redelivery has the lock token of the abandoned delivery")
	}
}

func TestDeadLetterQueueOperations(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}})
	c := newClient(t, sb)
	ctx := testContext(t)
	send(t, c, "events", msg("s", "bad-1", "one"), msg("s", "bad-2", "two"))

	r, err := c.AcceptNextSessionForQueue(ctx, "events", nil)
	if err != nil {
		t.Fatalf("AcceptNextSessionForQueue: %v", err)
	}
	for _, m := range receive(t, r, 2) {
		reason, desc := "Invalid", "the event "+m.MessageID+" failed validation"
		if err := r.DeadLetterMessage(ctx, m, &azservicebus.DeadLetterOptions{Reason: &reason, ErrorDescription: &desc}); err != nil {
			t.Fatalf("DeadLetterMessage: %v", err)
		}
	}
	r.Close(ctx)

	// The dead-letter queue is read with an ordinary receiver, although the
	// queue requires sessions.
	dlq, err := c.NewReceiverForQueue("events", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		t.Fatalf("NewReceiverForQueue(dead letter): %v", err)
	}
	listed, err := dlq.PeekMessages(ctx, 10, nil)
	if err != nil {
		t.Fatalf("PeekMessages(dead letter): %v", err)
	}
	if fmt.Sprint(ids(listed)) != "[bad-1 bad-2]" {
		t.Fatalf("dead-letter queue lists %v, want [bad-1 bad-2]", ids(listed))
	}
	for _, m := range listed {
		if m.DeadLetterReason == nil || *m.DeadLetterReason != "Invalid" ||
			m.DeadLetterErrorDescription == nil || *m.DeadLetterErrorDescription != "the event "+m.MessageID+" failed validation" {
			t.Errorf("%s: reason %v, description %v", m.MessageID, m.DeadLetterReason, m.DeadLetterErrorDescription)
		}
		if m.SessionID == nil || *m.SessionID != "s" {
			t.Errorf("%s: SessionID = %v, want s (kept in the dead-letter queue)", m.MessageID, m.SessionID)
		}
	}

	got := receive(t, dlq, 2)
	// Replay: send a copy to the queue, then complete the dead letter.
	replay := got[0]
	send(t, c, "events", &azservicebus.Message{Body: replay.Body, SessionID: replay.SessionID, MessageID: to("replayed-1")})
	if err := dlq.CompleteMessage(ctx, replay, nil); err != nil {
		t.Fatalf("CompleteMessage(dead letter): %v", err)
	}
	// Drop: complete the dead letter.
	if err := dlq.CompleteMessage(ctx, got[1], nil); err != nil {
		t.Fatalf("CompleteMessage(dead letter): %v", err)
	}
	left, err := dlq.PeekMessages(ctx, 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: to(int64(0))})
	if err != nil {
		t.Fatalf("PeekMessages(dead letter): %v", err)
	}
	if len(left) != 0 {
		t.Errorf("dead-letter queue still lists %v", ids(left))
	}
	r2, err := c.AcceptNextSessionForQueue(ctx, "events", nil)
	if err != nil {
		t.Fatalf("AcceptNextSessionForQueue: %v", err)
	}
	if m := receive(t, r2, 1)[0]; m.MessageID != "replayed-1" || string(m.Body) != "one" || m.DeadLetterReason != nil {
		t.Errorf("replayed message = %s %q reason %v, want replayed-1 \"one\" without a dead-letter reason", m.MessageID, m.Body, m.DeadLetterReason)
	}
}

func to[T any](v T) *T { return &v }

func TestMaxDeliveryCountDeadLetters(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true, MaxDeliveryCount: 3}}})
	c := newClient(t, sb)
	ctx := testContext(t)
	send(t, c, "events", msg("s", "poison", "x"))

	r, err := c.AcceptNextSessionForQueue(ctx, "events", nil)
	if err != nil {
		t.Fatalf("AcceptNextSessionForQueue: %v", err)
	}
	for want := uint32(1); want <= 3; want++ {
		m := receive(t, r, 1)[0]
		if m.DeliveryCount != want {
			t.Errorf("delivery %d has DeliveryCount %d", want, m.DeliveryCount)
		}
		if err := r.AbandonMessage(ctx, m, nil); err != nil {
			t.Fatalf("AbandonMessage: %v", err)
		}
	}
	dlq, err := c.NewReceiverForQueue("events", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		t.Fatalf("NewReceiverForQueue(dead letter): %v", err)
	}
	m := receive(t, dlq, 1)[0]
	if m.MessageID != "poison" || m.DeadLetterReason == nil || *m.DeadLetterReason != "MaxDeliveryCountExceeded" {
		t.Errorf("dead letter %s with reason %v, want poison with MaxDeliveryCountExceeded", m.MessageID, m.DeadLetterReason)
	}
	left, err := r.PeekMessages(ctx, 10, nil)
	if err != nil || len(left) != 0 {
		t.Errorf("the session still holds %v (%v)", ids(left), err)
	}
}

func TestExpiredMessageLockLosesTheSettlement(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "work", LockDuration: time.Second}}})
	c := newClient(t, sb)
	ctx := testContext(t)
	send(t, c, "work", msg("", "m1", "one"))

	r, err := c.NewReceiverForQueue("work", nil)
	if err != nil {
		t.Fatalf("NewReceiverForQueue: %v", err)
	}
	m := receive(t, r, 1)[0]
	time.Sleep(time.Until(*m.LockedUntil) + 200*time.Millisecond)

	err = r.CompleteMessage(ctx, m, nil)
	if code(err) != azservicebus.CodeLockLost {
		t.Fatalf("CompleteMessage after the lock expired = %v, want an *azservicebus.Error with CodeLockLost", err)
	}
	again := receive(t, r, 1)[0]
	if again.MessageID != "m1" || again.DeliveryCount != 2 {
		t.Errorf("redelivered %s with delivery count %d, want m1 with 2 (an expired lock counts)", again.MessageID, again.DeliveryCount)
	}
	if err := r.CompleteMessage(ctx, again, nil); err != nil {
		t.Errorf("CompleteMessage of the redelivery: %v", err)
	}
}

func TestRenewMessageLock(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "work", LockDuration: 2 * time.Second}}})
	c := newClient(t, sb)
	ctx := testContext(t)
	send(t, c, "work", msg("", "m1", "one"))
	r, err := c.NewReceiverForQueue("work", nil)
	if err != nil {
		t.Fatalf("NewReceiverForQueue: %v", err)
	}
	m := receive(t, r, 1)[0]
	before := *m.LockedUntil
	time.Sleep(100 * time.Millisecond)
	if err := r.RenewMessageLock(ctx, m, nil); err != nil {
		t.Fatalf("RenewMessageLock: %v", err)
	}
	if !m.LockedUntil.After(before) {
		t.Errorf("LockedUntil after renewal = %v, want after %v", m.LockedUntil, before)
	}
}

func TestSessionLockExpiryReleasesTheSession(t *testing.T) {
	t.Parallel()
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true, LockDuration: time.Second}}})
	c := newClient(t, sb)
	ctx := testContext(t)
	send(t, c, "events", msg("s", "m1", "one"))

	r, err := c.AcceptSessionForQueue(ctx, "events", "s", nil)
	if err != nil {
		t.Fatalf("AcceptSessionForQueue: %v", err)
	}
	receive(t, r, 1)
	time.Sleep(time.Until(r.LockedUntil()) + 200*time.Millisecond)

	if err := r.RenewSessionLock(ctx, nil); code(err) != azservicebus.CodeLockLost {
		t.Errorf("RenewSessionLock after the lock expired = %v, want CodeLockLost", err)
	}
	other := newClient(t, sb)
	r2, err := other.AcceptNextSessionForQueue(ctx, "events", nil)
	if err != nil {
		t.Fatalf("AcceptNextSessionForQueue after the lock expired: %v", err)
	}
	if m := receive(t, r2, 1)[0]; m.MessageID != "m1" || m.DeliveryCount != 2 {
		t.Errorf("got %s with delivery count %d, want m1 with 2", m.MessageID, m.DeliveryCount)
	}
}

func TestRenewSessionLock(t *testing.T) {
	t.Parallel()
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true, LockDuration: 2 * time.Second}}})
	c := newClient(t, sb)
	ctx := testContext(t)
	send(t, c, "events", msg("s", "m1", "one"))

	r, err := c.AcceptNextSessionForQueue(ctx, "events", nil)
	if err != nil {
		t.Fatalf("AcceptNextSessionForQueue: %v", err)
	}
	m := receive(t, r, 1)[0]
	first := r.LockedUntil()
	time.Sleep(1200 * time.Millisecond)
	if err := r.RenewSessionLock(ctx, nil); err != nil {
		t.Fatalf("RenewSessionLock: %v", err)
	}
	if !r.LockedUntil().After(first) {
		t.Fatalf("LockedUntil() after renewal = %v, want after %v", r.LockedUntil(), first)
	}
	// Past the first expiry, within the renewed one: the lock still holds.
	time.Sleep(time.Until(first) + 300*time.Millisecond)
	if err := r.CompleteMessage(ctx, m, nil); err != nil {
		t.Errorf("CompleteMessage within the renewed lock: %v", err)
	}
}

func TestAcceptNextSessionTimesOut(t *testing.T) {
	t.Parallel()
	sb := Start(t, Options{
		Queues:      []QueueOptions{{Name: "events", RequiresSession: true}},
		SessionWait: 500 * time.Millisecond,
	})
	c := newClient(t, sb)

	t.Run("context deadline", func(t *testing.T) {
		// The SDK asks the service to give up (com.microsoft:timeout) up to
		// 100 ms before its own deadline; which of the two the caller sees
		// is a race the SDK runs, on the service as here.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := c.AcceptNextSessionForQueue(ctx, "events", nil)
		if code(err) != azservicebus.CodeTimeout && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("AcceptNextSessionForQueue with nothing to accept = %v, want CodeTimeout or the context's deadline", err)
		}
	})
	t.Run("service wait", func(t *testing.T) {
		// Without a deadline the service waits for its own time, then
		// answers com.microsoft:timeout.
		_, err := c.AcceptNextSessionForQueue(context.Background(), "events", nil)
		if code(err) != azservicebus.CodeTimeout {
			t.Errorf("AcceptNextSessionForQueue with nothing to accept = %v, want CodeTimeout", err)
		}
	})
	t.Run("a receiver that gave up holds no session", func(t *testing.T) {
		slow := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}, SessionWait: time.Minute})
		c := newClient(t, slow)
		// Cancelled rather than timed out: the SDK sends no
		// com.microsoft:timeout, the stand-in would wait a minute; the SDK
		// gives up and ends its AMQP session.
		short, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(300*time.Millisecond, cancel)
		if _, err := c.AcceptNextSessionForQueue(short, "events", nil); err == nil {
			t.Fatal("AcceptNextSessionForQueue with nothing to accept succeeded")
		}
		send(t, c, "events", msg("s", "m1", "one"))
		r, err := c.AcceptNextSessionForQueue(testContext(t), "events", nil)
		if err != nil {
			t.Fatalf("AcceptNextSessionForQueue after the first gave up: %v", err)
		}
		if m := receive(t, r, 1)[0]; m.MessageID != "m1" || m.DeliveryCount != 1 {
			t.Errorf("got %s with delivery count %d, want m1 with 1", m.MessageID, m.DeliveryCount)
		}
	})
	t.Run("a session arrives while waiting", func(t *testing.T) {
		ctx := testContext(t)
		snd, err := c.NewSender("events", nil)
		if err != nil {
			t.Fatalf("NewSender: %v", err)
		}
		go func() {
			time.Sleep(200 * time.Millisecond)
			if err := snd.SendMessage(ctx, msg("late", "m1", "one"), nil); err != nil {
				t.Errorf("SendMessage: %v", err)
			}
		}()
		r, err := c.AcceptNextSessionForQueue(ctx, "events", nil)
		if err != nil {
			t.Fatalf("AcceptNextSessionForQueue: %v", err)
		}
		if r.SessionID() != "late" {
			t.Errorf("SessionID() = %q, want late", r.SessionID())
		}
	})
}

func TestOneReceiverPerSession(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}})
	c := newClient(t, sb)
	ctx := testContext(t)
	send(t, c, "events", msg("a", "a1", "x"), msg("b", "b1", "y"))

	r1, err := c.AcceptSessionForQueue(ctx, "events", "a", nil)
	if err != nil {
		t.Fatalf("AcceptSessionForQueue(a): %v", err)
	}
	_, err = newClient(t, sb).AcceptSessionForQueue(ctx, "events", "a", nil)
	if got := condition(err); got != "com.microsoft:session-cannot-be-locked" {
		t.Errorf("a second AcceptSessionForQueue(a) = %v, want com.microsoft:session-cannot-be-locked", err)
	}
	// The next available session skips the locked one.
	r2, err := newClient(t, sb).AcceptNextSessionForQueue(ctx, "events", nil)
	if err != nil {
		t.Fatalf("AcceptNextSessionForQueue: %v", err)
	}
	if r2.SessionID() != "b" {
		t.Errorf("next session = %q, want b", r2.SessionID())
	}
	// Once closed, the session is free again.
	r1.Close(ctx)
	r3, err := newClient(t, sb).AcceptSessionForQueue(ctx, "events", "a", nil)
	if err != nil {
		t.Fatalf("AcceptSessionForQueue(a) after the first receiver closed: %v", err)
	}
	if m := receive(t, r3, 1)[0]; m.MessageID != "a1" {
		t.Errorf("got %s, want a1", m.MessageID)
	}
}

func TestDuplicateMessageIDIsDropped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window time.Duration
		want   string
	}{
		{"detection on", 0, "[m1 m2]"},
		{"detection off", -1, "[m1 m1 m2]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true, DuplicateDetectionWindow: tc.window}}})
			c := newClient(t, sb)
			ctx := testContext(t)
			send(t, c, "events", msg("s", "m1", "first"), msg("s", "m1", "again"), msg("s", "m2", "two"))
			r, err := c.AcceptNextSessionForQueue(ctx, "events", nil)
			if err != nil {
				t.Fatalf("AcceptNextSessionForQueue: %v", err)
			}
			all, err := r.PeekMessages(ctx, 10, nil)
			if err != nil {
				t.Fatalf("PeekMessages: %v", err)
			}
			if got := fmt.Sprint(ids(all)); got != tc.want {
				t.Errorf("the session holds %s, want %s", got, tc.want)
			}
			if string(all[0].Body) != "first" {
				t.Errorf("first message body %q, want the first send's", all[0].Body)
			}
		})
	}
}

func TestTooLargeMessageIsRefused(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{
		{Name: "standard", RequiresSession: true},
		{Name: "small", RequiresSession: true, MaxMessageSize: 1024},
	}})
	c := newClient(t, sb)
	for _, tc := range []struct {
		queue string
		size  int
	}{
		{"standard", 300 * 1024},
		{"small", 2048},
	} {
		s, err := c.NewSender(tc.queue, nil)
		if err != nil {
			t.Fatalf("NewSender: %v", err)
		}
		err = s.SendMessage(testContext(t), &azservicebus.Message{Body: make([]byte, tc.size), SessionID: to("s")}, nil)
		if !errors.Is(err, azservicebus.ErrMessageTooLarge) {
			t.Errorf("%s: SendMessage of %d bytes = %v, want ErrMessageTooLarge", tc.queue, tc.size, err)
		}
		if err := s.SendMessage(testContext(t), &azservicebus.Message{Body: make([]byte, 512), SessionID: to("s")}, nil); err != nil {
			t.Errorf("%s: SendMessage of 512 bytes: %v", tc.queue, err)
		}
	}
}

func TestSessionRules(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}, {Name: "plain"}}})
	c := newClient(t, sb)
	ctx := testContext(t)

	s, err := c.NewSender("events", nil)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil); condition(err) != "amqp:not-allowed" {
		t.Errorf("SendMessage without a SessionID to a session queue = %v, want amqp:not-allowed", err)
	}

	r, err := c.NewReceiverForQueue("events", nil)
	if err != nil {
		t.Fatalf("NewReceiverForQueue: %v", err)
	}
	if _, err := r.PeekMessages(ctx, 1, nil); condition(err) != "amqp:not-allowed" {
		t.Errorf("a non-session receiver on a session queue = %v, want amqp:not-allowed", err)
	}
	if _, err := c.AcceptSessionForQueue(ctx, "plain", "s", nil); condition(err) != "amqp:not-allowed" {
		t.Errorf("a session receiver on a queue without sessions = %v, want amqp:not-allowed", err)
	}
	if _, err := c.AcceptSessionForQueue(ctx, "missing", "s", nil); condition(err) != "amqp:not-found" {
		t.Errorf("a receiver on a missing queue = %v, want amqp:not-found", err)
	}
}

func TestWrongKeyIsUnauthorized(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}})
	name, _ := sb.Key()
	cs := fmt.Sprintf("Endpoint=sb://%s;SharedAccessKeyName=%s;SharedAccessKey=bm90IHRoZSBrZXk=;UseDevelopmentEmulator=true;", sb.Namespace(), name)
	c, err := azservicebus.NewClientFromConnectionString(cs, &azservicebus.ClientOptions{RetryOptions: azservicebus.RetryOptions{MaxRetries: -1}})
	if err != nil {
		t.Fatalf("NewClientFromConnectionString: %v", err)
	}
	defer c.Close(context.Background())
	s, err := c.NewSender("events", nil)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	err = s.SendMessage(testContext(t), msg("s", "m1", "x"), nil)
	if code(err) != azservicebus.CodeUnauthorizedAccess {
		t.Errorf("SendMessage with a wrong key = %v, want CodeUnauthorizedAccess", err)
	}
}

// tokenFor is an azcore credential that answers with claims as a JWT.
type tokenFor map[string]any

func (c tokenFor) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: jwt(c), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Over TLS, as Service Bus is reached in Azure, azservicebus connects
// with NewClient and an Entra token (put-token of type jwt). (azservicebus
// would verify the certificate for "127.0.0.1:<port>", port included,
// which no certificate can name; Azure's namespaces have no port, so the
// server name is set to the host.) A message
// goes round; a token for another resource is refused; a client that does
// not trust the certificate does not connect.
func TestTLSWithAnEntraToken(t *testing.T) {
	sb := Start(t, Options{TLS: true, Queues: []QueueOptions{{Name: "events", RequiresSession: true}}})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(sb.CertPEM()) {
		t.Fatal("CertPEM holds no certificate")
	}
	hour := time.Now().Add(time.Hour).Unix()
	send := func(cred azcore.TokenCredential, roots *x509.CertPool) error {
		c, err := azservicebus.NewClient(sb.Namespace(), cred, &azservicebus.ClientOptions{TLSConfig: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"},
			RetryOptions: azservicebus.RetryOptions{MaxRetries: -1}})
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		s, err := c.NewSender("events", nil)
		if err != nil {
			return err
		}
		return s.SendMessage(testContext(t), msg("s", "m1", "x"), nil)
	}
	if err := send(tokenFor{"aud": "https://servicebus.azure.net", "exp": hour}, pool); err != nil {
		t.Fatalf("SendMessage over TLS with a Service Bus token = %v", err)
	}
	if err := send(tokenFor{"aud": "https://graph.microsoft.com", "exp": hour}, pool); code(err) != azservicebus.CodeUnauthorizedAccess {
		t.Errorf("SendMessage with a token for Graph = %v, want CodeUnauthorizedAccess", err)
	}
	if err := send(tokenFor{"aud": "https://servicebus.azure.net", "exp": hour}, x509.NewCertPool()); err == nil {
		t.Errorf("SendMessage without trusting the certificate succeeded")
	}
	c, err := azservicebus.NewClient(sb.Namespace(), tokenFor{"aud": "https://servicebus.azure.net", "exp": hour},
		&azservicebus.ClientOptions{TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	r, err := c.AcceptSessionForQueue(testContext(t), "events", "s", nil)
	if err != nil {
		t.Fatalf("AcceptSessionForQueue = %v", err)
	}
	got, err := r.ReceiveMessages(testContext(t), 1, nil)
	if err != nil || len(got) != 1 || string(got[0].Body) != "x" {
		t.Fatalf("ReceiveMessages = %v, %v; want the message sent", got, err)
	}
}

func TestDeferAndReceiveDeferred(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}})
	c := newClient(t, sb)
	ctx := testContext(t)
	send(t, c, "events", msg("s", "m1", "one"), msg("s", "m2", "two"))
	r, err := c.AcceptNextSessionForQueue(ctx, "events", nil)
	if err != nil {
		t.Fatalf("AcceptNextSessionForQueue: %v", err)
	}
	m1 := receive(t, r, 1)[0]
	if err := r.DeferMessage(ctx, m1, nil); err != nil {
		t.Fatalf("DeferMessage: %v", err)
	}
	if m := receive(t, r, 1)[0]; m.MessageID != "m2" {
		t.Errorf("after deferring m1 got %s, want m2", m.MessageID)
	}
	peeked, err := r.PeekMessages(ctx, 1, &azservicebus.PeekMessagesOptions{FromSequenceNumber: m1.SequenceNumber})
	if err != nil || len(peeked) != 1 || peeked[0].State != azservicebus.MessageStateDeferred {
		t.Fatalf("peek of the deferred message = %v (%v), want it in state deferred", peeked, err)
	}
	got, err := r.ReceiveDeferredMessages(ctx, []int64{*m1.SequenceNumber}, nil)
	if err != nil || len(got) != 1 || got[0].MessageID != "m1" {
		t.Fatalf("ReceiveDeferredMessages = %v (%v), want m1", got, err)
	}
	if err := r.CompleteMessage(ctx, got[0], nil); err != nil {
		t.Errorf("CompleteMessage of the deferred message: %v", err)
	}
}

func TestSessionState(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}})
	c := newClient(t, sb)
	ctx := testContext(t)
	r, err := c.AcceptSessionForQueue(ctx, "events", "s", nil)
	if err != nil {
		t.Fatalf("AcceptSessionForQueue: %v", err)
	}
	if st, err := r.GetSessionState(ctx, nil); err != nil || st != nil {
		t.Errorf("GetSessionState of a new session = %q, %v; want nil", st, err)
	}
	if err := r.SetSessionState(ctx, []byte("step 2"), nil); err != nil {
		t.Fatalf("SetSessionState: %v", err)
	}
	if st, err := r.GetSessionState(ctx, nil); err != nil || string(st) != "step 2" {
		t.Errorf("GetSessionState = %q, %v; want step 2", st, err)
	}
}

func TestScheduledMessage(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}})
	c := newClient(t, sb)
	ctx := testContext(t)
	later := msg("s", "later", "x")
	later.ScheduledEnqueueTime = to(time.Now().Add(time.Hour))
	send(t, c, "events", later)
	r, err := c.AcceptSessionForQueue(ctx, "events", "s", nil)
	if err != nil {
		t.Fatalf("AcceptSessionForQueue: %v", err)
	}
	peeked, err := r.PeekMessages(ctx, 1, nil)
	if err != nil || len(peeked) != 1 || peeked[0].State != azservicebus.MessageStateScheduled {
		t.Fatalf("peek = %v (%v), want the message in state scheduled", peeked, err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if got, _ := r.ReceiveMessages(short, 1, nil); len(got) != 0 {
		t.Errorf("received %v before its scheduled time", ids(got))
	}
}

// Several clients send to several sessions at once, then several clients
// receive from them at once; every message arrives once, in the order of
// its session. (Receiving while the senders still send can reorder a
// session as azservicebus sees it: the SDK releases messages that arrive
// after ReceiveMessages returns, and the next call can find a later message
// already delivered before the released ones come back; see README.md.)
func TestConcurrentClients(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}})
	const sessions, perSession = 6, 15
	ctx := testContext(t)

	var wg sync.WaitGroup
	for s := range sessions {
		c := newClient(t, sb)
		wg.Add(1)
		go func() {
			defer wg.Done()
			snd, err := c.NewSender("events", nil)
			if err != nil {
				t.Errorf("NewSender: %v", err)
				return
			}
			for i := range perSession {
				m := msg(fmt.Sprintf("s%d", s), fmt.Sprintf("s%d-%02d", s, i), "x")
				if err := snd.SendMessage(ctx, m, nil); err != nil {
					t.Errorf("SendMessage: %v", err)
					return
				}
			}
		}()
	}

	wg.Wait()

	var mu sync.Mutex
	got := map[string][]string{}
	total := 0
	for range 3 {
		c := newClient(t, sb)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				done := total == sessions*perSession
				mu.Unlock()
				if done || ctx.Err() != nil {
					return
				}
				actx, cancel := context.WithTimeout(ctx, 3*time.Second)
				r, err := c.AcceptNextSessionForQueue(actx, "events", nil)
				cancel()
				if err != nil {
					continue
				}
				for {
					rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
					ms, err := r.ReceiveMessages(rctx, 4, nil)
					cancel()
					if err != nil || len(ms) == 0 {
						break
					}
					for _, m := range ms {
						if err := r.CompleteMessage(ctx, m, nil); err != nil {
							t.Errorf("CompleteMessage: %v", err)
							continue
						}
						mu.Lock()
						got[*m.SessionID] = append(got[*m.SessionID], m.MessageID)
						total++
						mu.Unlock()
					}
				}
				r.Close(ctx)
			}
		}()
	}
	wg.Wait()
	for s := range sessions {
		id := fmt.Sprintf("s%d", s)
		want := make([]string, perSession)
		for i := range want {
			want[i] = fmt.Sprintf("%s-%02d", id, i)
		}
		if fmt.Sprint(got[id]) != fmt.Sprint(want) {
			t.Errorf("session %s received %v, want %v", id, got[id], want)
		}
	}
	if total != sessions*perSession {
		t.Errorf("received %d messages, want %d", total, sessions*perSession)
	}
}

// Reading the dead-letter queue in receive-and-delete mode takes the
// messages out at once.
func TestReceiveAndDeleteFromTheDeadLetterQueue(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}})
	c := newClient(t, sb)
	ctx := testContext(t)
	send(t, c, "events", msg("s", "m1", "one"))
	r, err := c.AcceptNextSessionForQueue(ctx, "events", nil)
	if err != nil {
		t.Fatalf("AcceptNextSessionForQueue: %v", err)
	}
	if err := r.DeadLetterMessage(ctx, receive(t, r, 1)[0], nil); err != nil {
		t.Fatalf("DeadLetterMessage: %v", err)
	}
	dlq, err := c.NewReceiverForQueue("events", &azservicebus.ReceiverOptions{
		SubQueue: azservicebus.SubQueueDeadLetter, ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete,
	})
	if err != nil {
		t.Fatalf("NewReceiverForQueue: %v", err)
	}
	if m := receive(t, dlq, 1)[0]; m.MessageID != "m1" {
		t.Errorf("received %s, want m1", m.MessageID)
	}
	left, err := dlq.PeekMessages(ctx, 10, nil)
	if err != nil || len(left) != 0 {
		t.Errorf("dead-letter queue after receive-and-delete: %v (%v), want empty", ids(left), err)
	}
}
