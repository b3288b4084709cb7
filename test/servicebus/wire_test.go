package servicebus

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/go-amqp"
)

// These tests speak AMQP to the stand-in with go-amqp, below any SDK, to
// check the wire behaviour the SDKs rely on.

const sasType = "servicebus.windows.net:sastoken"

func dial(tb testing.TB, sb *Server, opts *amqp.ConnOptions) *amqp.Conn {
	tb.Helper()
	if opts == nil {
		opts = &amqp.ConnOptions{}
	}
	opts.SASLType = amqp.SASLTypeAnonymous()
	conn, err := amqp.Dial(testContext(tb), "amqp://"+sb.Namespace(), opts)
	if err != nil {
		tb.Fatalf("amqp.Dial: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// sasToken signs a token as Service Bus documents it.
func sasToken(resource, keyName, key string, expiry time.Time) string {
	sr := strings.ToLower(url.QueryEscape(resource))
	se := fmt.Sprint(expiry.Unix())
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(sr + "\n" + se))
	sig := url.QueryEscape(base64.StdEncoding.EncodeToString(h.Sum(nil)))
	return fmt.Sprintf("SharedAccessSignature sr=%s&sig=%s&se=%s&skn=%s", sr, sig, se, keyName)
}

// jwt builds an unsigned-looking JWT with the given claims (the stand-in
// does not verify JWT signatures; see README.md).
func jwt(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims) + "." + base64.RawURLEncoding.EncodeToString([]byte("signature"))
}

type cbsReply struct {
	status int32
	desc   string
}

// putToken sends one put-token over a fresh AMQP session, as the SDKs do.
func putToken(tb testing.TB, conn *amqp.Conn, tokenType, audience, token string) cbsReply {
	tb.Helper()
	ctx := testContext(tb)
	sess, err := conn.NewSession(ctx, nil)
	if err != nil {
		tb.Fatalf("NewSession: %v", err)
	}
	defer sess.Close(ctx)
	snd, err := sess.NewSender(ctx, "$cbs", nil)
	if err != nil {
		tb.Fatalf("NewSender($cbs): %v", err)
	}
	rcv, err := sess.NewReceiver(ctx, "$cbs", &amqp.ReceiverOptions{
		TargetAddress:             "cbs-reply",
		SettlementMode:            amqp.ReceiverSettleModeFirst.Ptr(),
		RequestedSenderSettleMode: amqp.SenderSettleModeSettled.Ptr(),
		Credit:                    10,
	})
	if err != nil {
		tb.Fatalf("NewReceiver($cbs): %v", err)
	}
	req := &amqp.Message{
		Properties: &amqp.MessageProperties{MessageID: "req-1", ReplyTo: to("cbs-reply")},
		ApplicationProperties: map[string]any{
			"operation": "put-token", "type": tokenType, "name": audience,
			"expiration": fmt.Sprint(time.Now().Add(time.Hour).Unix()),
		},
		Value: token,
	}
	if err := snd.Send(ctx, req, nil); err != nil {
		tb.Fatalf("Send(put-token): %v", err)
	}
	res, err := rcv.Receive(ctx, nil)
	if err != nil {
		tb.Fatalf("Receive(put-token reply): %v", err)
	}
	if res.Properties == nil || res.Properties.CorrelationID != "req-1" {
		tb.Errorf("reply correlation-id = %v, want req-1", res.Properties)
	}
	status, ok := res.ApplicationProperties["status-code"].(int32)
	if !ok {
		tb.Fatalf("status-code = %#v (%T), want an int32", res.ApplicationProperties["status-code"], res.ApplicationProperties["status-code"])
	}
	desc, _ := res.ApplicationProperties["status-description"].(string)
	return cbsReply{status, desc}
}

func TestPutTokenChecksTheToken(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events"}}})
	name, key := sb.Key()
	ns := "amqp://" + sb.Namespace() + "/"
	hour := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name      string
		tokenType string
		audience  string
		token     string
		want      int32
	}{
		{"SAS for the entity", sasType, ns + "events", sasToken(ns+"events", name, key, hour), 202},
		{"SAS for the namespace covers the entity", sasType, ns + "events", sasToken(ns, name, key, hour), 202},
		{"SAS for another entity", sasType, ns + "events", sasToken(ns+"other", name, key, hour), 401},
		{"SAS with a wrong key", sasType, ns + "events", sasToken(ns+"events", name, "not-the-key", hour), 401},
		{"SAS with a wrong key name", sasType, ns + "events", sasToken(ns+"events", "Other", key, hour), 401},
		{"expired SAS", sasType, ns + "events", sasToken(ns+"events", name, key, time.Now().Add(-time.Minute)), 401},
		{"SAS for another namespace", sasType, "amqp://elsewhere:5672/events", sasToken("amqp://elsewhere:5672/events", name, key, hour), 401},
		{"not a SAS", sasType, ns + "events", "Bearer x", 401},
		{"JWT for Service Bus", "jwt", ns + "events", jwt(map[string]any{"aud": "https://servicebus.azure.net", "exp": hour.Unix()}), 202},
		{"JWT for another resource", "jwt", ns + "events", jwt(map[string]any{"aud": "https://graph.microsoft.com", "exp": hour.Unix()}), 401},
		{"expired JWT", "jwt", ns + "events", jwt(map[string]any{"aud": "https://servicebus.azure.net", "exp": time.Now().Add(-time.Minute).Unix()}), 401},
		{"not a JWT", "jwt", ns + "events", "abc", 401},
		{"unknown token type", "basic", ns + "events", "abc", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := dial(t, sb, nil)
			if got := putToken(t, conn, tc.tokenType, tc.audience, tc.token); got.status != tc.want {
				t.Errorf("put-token status = %d (%s), want %d", got.status, got.desc, tc.want)
			}
		})
	}
}

func TestLinksNeedAClaim(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events"}, {Name: "other"}}})
	name, key := sb.Key()
	ns := "amqp://" + sb.Namespace() + "/"
	conn := dial(t, sb, nil)
	if got := putToken(t, conn, sasType, ns+"events", sasToken(ns+"events", name, key, time.Now().Add(time.Hour))); got.status != 202 {
		t.Fatalf("put-token = %d %s", got.status, got.desc)
	}
	ctx := testContext(t)
	sess, err := conn.NewSession(ctx, nil)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	if _, err := sess.NewSender(ctx, "events", nil); err != nil {
		t.Errorf("NewSender(events) with a claim for events: %v", err)
	}
	_, err = sess.NewSender(ctx, "other", nil)
	var amqpErr *amqp.Error
	if !errors.As(err, &amqpErr) || amqpErr.Condition != amqp.ErrCondUnauthorizedAccess {
		t.Errorf("NewSender(other) without a claim = %v, want %s", err, amqp.ErrCondUnauthorizedAccess)
	}
	if _, err := sess.NewReceiver(ctx, "other", nil); condition(err) != amqp.ErrCondUnauthorizedAccess {
		t.Errorf("NewReceiver(other) without a claim = %v, want %s", err, amqp.ErrCondUnauthorizedAccess)
	}
}

func TestSenderAttachAdvertisesMaxMessageSize(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", MaxMessageSize: 4096}}})
	name, key := sb.Key()
	ns := "amqp://" + sb.Namespace() + "/"
	conn := dial(t, sb, nil)
	putToken(t, conn, sasType, ns, sasToken(ns, name, key, time.Now().Add(time.Hour)))
	ctx := testContext(t)
	sess, err := conn.NewSession(ctx, nil)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	snd, err := sess.NewSender(ctx, "events", nil)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	if got := snd.MaxMessageSize(); got != 4096 {
		t.Errorf("MaxMessageSize() = %d, want 4096", got)
	}
}

// An accept-next-session with nothing to accept: the service answers at
// com.microsoft:timeout with a null source, then detaches with that error.
func TestAcceptNextSessionTimeoutOnTheWire(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}})
	name, key := sb.Key()
	ns := "amqp://" + sb.Namespace() + "/"
	conn := dial(t, sb, nil)
	putToken(t, conn, sasType, ns, sasToken(ns, name, key, time.Now().Add(time.Hour)))
	ctx := testContext(t) // far beyond the requested timeout
	sess, err := conn.NewSession(ctx, nil)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	_, err = sess.NewReceiver(ctx, "events", &amqp.ReceiverOptions{
		SettlementMode: amqp.ReceiverSettleModeSecond.Ptr(),
		Filters:        []amqp.LinkFilter{amqp.NewLinkFilter("com.microsoft:session-filter", 0x00000137000000C, nil)},
		Properties:     map[string]any{"com.microsoft:timeout": uint32(300)},
	})
	if got := condition(err); got != "com.microsoft:timeout" {
		t.Errorf("NewReceiver for the next session = %v, want the detach error com.microsoft:timeout", err)
	}
}

// The stand-in sends empty frames within the client's idle timeout, so a
// client that drops a silent connection keeps it.
func TestHeartbeats(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events"}}})
	name, key := sb.Key()
	ns := "amqp://" + sb.Namespace() + "/"
	conn := dial(t, sb, &amqp.ConnOptions{IdleTimeout: 300 * time.Millisecond})
	time.Sleep(1500 * time.Millisecond)
	if got := putToken(t, conn, sasType, ns, sasToken(ns, name, key, time.Now().Add(time.Hour))); got.status != 202 {
		t.Errorf("put-token after 1.5 s of silence = %d %s", got.status, got.desc)
	}
}

// A client that gives up on an accept-next-session detaches the link later
// (go-amqp does when it next attaches on that session); the stand-in then
// answers the attach and the detach, and the session goes on working.
func TestAbandonedSessionAcceptIsAnswered(t *testing.T) {
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}, SessionWait: time.Minute})
	name, key := sb.Key()
	ns := "amqp://" + sb.Namespace() + "/"
	conn := dial(t, sb, nil)
	putToken(t, conn, sasType, ns, sasToken(ns, name, key, time.Now().Add(time.Hour)))
	ctx := testContext(t)
	sess, err := conn.NewSession(ctx, nil)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = sess.NewReceiver(short, "events", &amqp.ReceiverOptions{
		SettlementMode: amqp.ReceiverSettleModeSecond.Ptr(),
		Filters:        []amqp.LinkFilter{amqp.NewLinkFilter("com.microsoft:session-filter", 0x00000137000000C, nil)},
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("NewReceiver with nothing to accept = %v, want the context's deadline", err)
	}
	for i := range 2 {
		snd, err := sess.NewSender(ctx, "events", nil)
		if err != nil {
			t.Fatalf("NewSender %d on the same session: %v", i, err)
		}
		sid := "s"
		if err := snd.Send(ctx, &amqp.Message{Data: [][]byte{[]byte("x")}, Properties: &amqp.MessageProperties{GroupID: &sid}}, nil); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
}
