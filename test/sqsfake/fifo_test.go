package sqsfake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	smithy "github.com/aws/smithy-go"
)

// fifoSend sends body to group with an explicit deduplication id.
func fifoSend(tb testing.TB, c *sqs.Client, u, group, dedup, body string) *sqs.SendMessageOutput {
	tb.Helper()
	return send(tb, c, &sqs.SendMessageInput{
		QueueUrl: aws.String(u), MessageBody: aws.String(body),
		MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(dedup),
	})
}

func TestFIFODeduplicatesWithinWindow(t *testing.T) {
	s := newServer(t)
	c := newClient(s)
	u := mustCreate(t, s, "events.fifo", QueueOptions{FIFO: true})
	first := fifoSend(t, c, u, "alice", "evt-1", `{"v":1}`)
	if len(aws.ToString(first.SequenceNumber)) != 20 {
		t.Errorf("SequenceNumber = %q, want 20 digits", aws.ToString(first.SequenceNumber))
	}
	dup := fifoSend(t, c, u, "alice", "evt-1", `{"v":1}`)
	if aws.ToString(dup.MessageId) != aws.ToString(first.MessageId) || aws.ToString(dup.SequenceNumber) != aws.ToString(first.SequenceNumber) {
		t.Errorf("duplicate answered id %s seq %s, want the original's %s %s",
			aws.ToString(dup.MessageId), aws.ToString(dup.SequenceNumber), aws.ToString(first.MessageId), aws.ToString(first.SequenceNumber))
	}
	second := fifoSend(t, c, u, "alice", "evt-2", `{"v":2}`)
	if aws.ToString(second.SequenceNumber) <= aws.ToString(first.SequenceNumber) {
		t.Errorf("sequence numbers %s then %s, want increasing", aws.ToString(first.SequenceNumber), aws.ToString(second.SequenceNumber))
	}
	got := s.Messages("events.fifo")
	if len(got) != 2 || got[0].DeduplicationID != "evt-1" || got[1].DeduplicationID != "evt-2" {
		t.Fatalf("queue = %+v, want evt-1 and evt-2 once each", got)
	}
	// Deleting does not end the deduplication window.
	msgs := receive(t, c, u, 10)
	for _, m := range msgs {
		c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: m.ReceiptHandle})
	}
	fifoSend(t, c, u, "alice", "evt-1", `{"v":1}`)
	if n := len(s.Messages("events.fifo")); n != 0 {
		t.Errorf("%d messages after resending a deleted id within 5 minutes, want 0", n)
	}
}

func TestFIFOContentBasedDeduplication(t *testing.T) {
	s := newServer(t)
	c := newClient(s)
	u := mustCreate(t, s, "cbd.fifo", QueueOptions{FIFO: true, ContentBasedDeduplication: true})
	for range 2 {
		send(t, c, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("same"), MessageGroupId: aws.String("g")})
	}
	send(t, c, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("other"), MessageGroupId: aws.String("g")})
	got := s.Messages("cbd.fifo")
	sum := sha256.Sum256([]byte("same"))
	if len(got) != 2 || got[0].DeduplicationID != hex.EncodeToString(sum[:]) {
		t.Errorf("queue = %+v, want 2 messages, the first deduplicated by the body's SHA-256", got)
	}
}

func TestFIFORequiresGroupAndDeduplicationIDs(t *testing.T) {
	s := newServer(t)
	c := newClient(s)
	u := mustCreate(t, s, "strict.fifo", QueueOptions{FIFO: true})
	tests := []struct {
		name string
		in   sqs.SendMessageInput
		code string
	}{
		{"no group", sqs.SendMessageInput{MessageDeduplicationId: aws.String("d")}, "MissingParameter"},
		{"no dedup id and no content-based dedup", sqs.SendMessageInput{MessageGroupId: aws.String("g")}, "InvalidParameterValue"},
		{"per-message delay", sqs.SendMessageInput{MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d"), DelaySeconds: 5}, "InvalidParameterValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.QueueUrl, in.MessageBody = aws.String(u), aws.String("x")
			_, err := c.SendMessage(context.Background(), &in)
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tt.code {
				t.Errorf("SendMessage = %v, want %s", err, tt.code)
			}
		})
	}
	if _, err := s.CreateQueue("plain", QueueOptions{FIFO: true}); err == nil {
		t.Errorf("CreateQueue(plain, FIFO) = nil, want an error: FIFO names end in .fifo")
	}
}

func TestFIFOGroupOrderAndInFlightLock(t *testing.T) {
	s := newServer(t)
	c := newClient(s)
	u := mustCreate(t, s, "ordered.fifo", QueueOptions{FIFO: true, VisibilityTimeout: 400 * time.Millisecond})
	for _, m := range []struct{ group, body string }{{"a", "a1"}, {"b", "b1"}, {"a", "a2"}, {"a", "a3"}, {"b", "b2"}} {
		fifoSend(t, c, u, m.group, m.body, m.body)
	}
	first := receive(t, c, u, 1)
	if got := bodies(first); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("first receive = %v, want [a1]", got)
	}
	if first[0].Attributes["MessageGroupId"] != "a" || first[0].Attributes["MessageDeduplicationId"] != "a1" || len(first[0].Attributes["SequenceNumber"]) != 20 {
		t.Errorf("attributes = %v, want MessageGroupId, MessageDeduplicationId and SequenceNumber", first[0].Attributes)
	}
	groupB := receive(t, c, u, 10)
	if got := bodies(groupB); !slices.Equal(got, []string{"b1", "b2"}) {
		t.Fatalf("receive while a1 is in flight = %v, want [b1 b2]: group a is locked", got)
	}
	if got := receive(t, c, u, 10); len(got) != 0 {
		t.Errorf("receive while both groups are in flight = %v, want nothing", bodies(got))
	}
	// Deleting b1 leaves group b locked by b2.
	c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: groupB[0].ReceiptHandle})
	if got := receive(t, c, u, 10); len(got) != 0 {
		t.Errorf("receive after deleting b1 = %v, want nothing: b2 is still in flight", bodies(got))
	}
	// Neither a1 nor b2 is deleted: after their visibility timeout both groups
	// come again, a1 before a2, several groups in one receive, one group's
	// messages together.
	time.Sleep(450 * time.Millisecond)
	again := receive(t, c, u, 10)
	if got := bodies(again); !slices.Equal(got, []string{"a1", "a2", "a3", "b2"}) {
		t.Fatalf("after the timeouts = %v, want [a1 a2 a3 b2]", got)
	}
	if again[0].Attributes["ApproximateReceiveCount"] != "2" || again[1].Attributes["ApproximateReceiveCount"] != "1" {
		t.Errorf("receive counts a1 %s a2 %s, want 2 and 1", again[0].Attributes["ApproximateReceiveCount"], again[1].Attributes["ApproximateReceiveCount"])
	}
	// A stale receipt handle cannot delete on a FIFO queue.
	_, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: first[0].ReceiptHandle})
	var bad *types.ReceiptHandleIsInvalid
	if !errors.As(err, &bad) {
		t.Errorf("delete with a1's first receipt handle = %v, want *types.ReceiptHandleIsInvalid", err)
	}
}

func TestFIFOReceivePrefersOneGroup(t *testing.T) {
	s := newServer(t)
	c := newClient(s)
	u := mustCreate(t, s, "prefer.fifo", QueueOptions{FIFO: true})
	for _, m := range []struct{ group, body string }{{"a", "a1"}, {"b", "b1"}, {"a", "a2"}} {
		fifoSend(t, c, u, m.group, m.body, m.body)
	}
	if got := bodies(receive(t, c, u, 2)); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("receive of 2 = %v, want [a1 a2]: as many of one group as possible", got)
	}
}

func TestFIFORedriveKeepsGroupMoving(t *testing.T) {
	s := newServer(t)
	c := newClient(s)
	mustCreate(t, s, "dead.fifo", QueueOptions{FIFO: true})
	u := mustCreate(t, s, "live.fifo", QueueOptions{FIFO: true, VisibilityTimeout: 50 * time.Millisecond, MaxReceiveCount: 1, DeadLetterQueue: "dead.fifo"})
	fifoSend(t, c, u, "g", "poison", "poison")
	fifoSend(t, c, u, "g", "next", "next")
	if got := bodies(receive(t, c, u, 1)); !slices.Equal(got, []string{"poison"}) {
		t.Fatalf("first receive = %v, want [poison]", got)
	}
	time.Sleep(80 * time.Millisecond)
	if got := bodies(receive(t, c, u, 10)); !slices.Equal(got, []string{"next"}) {
		t.Errorf("after poison's timeout = %v, want [next]: poison went to the dead-letter queue", got)
	}
	dead := s.Messages("dead.fifo")
	if len(dead) != 1 || dead[0].Body != "poison" || dead[0].GroupID != "g" {
		t.Errorf("dead.fifo = %+v, want poison of group g", dead)
	}
}
