package sqsfake

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// newServer starts a server closed at the end of the test.
func newServer(tb testing.TB) *Server {
	tb.Helper()
	s, err := NewServer()
	if err != nil {
		tb.Fatalf("NewServer: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// newClient is the real SDK client pointed at s, with static credentials.
func newClient(s *Server, opts ...func(*sqs.Options)) *sqs.Client {
	cfg := aws.Config{
		Region: "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDSQSFAKETEST", SecretAccessKey: "secret"}, nil
		}),
	}
	opts = append([]func(*sqs.Options){func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.URL()) }}, opts...)
	return sqs.NewFromConfig(cfg, opts...)
}

// mustCreate creates a queue or fails the test.
func mustCreate(tb testing.TB, s *Server, name string, o QueueOptions) string {
	tb.Helper()
	u, err := s.CreateQueue(name, o)
	if err != nil {
		tb.Fatalf("CreateQueue(%s): %v", name, err)
	}
	return u
}

// send sends body to the queue or fails the test.
func send(tb testing.TB, c *sqs.Client, in *sqs.SendMessageInput) *sqs.SendMessageOutput {
	tb.Helper()
	out, err := c.SendMessage(context.Background(), in)
	if err != nil {
		tb.Fatalf("SendMessage(%s): %v", aws.ToString(in.MessageBody), err)
	}
	return out
}

// receive receives up to max messages with all attributes, without waiting.
func receive(tb testing.TB, c *sqs.Client, queueURL string, max int32) []types.Message {
	tb.Helper()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL), MaxNumberOfMessages: max,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		tb.Fatalf("ReceiveMessage: %v", err)
	}
	return out.Messages
}

// bodies lists the messages' bodies.
func bodies(msgs []types.Message) []string {
	var b []string
	for _, m := range msgs {
		b = append(b, aws.ToString(m.Body))
	}
	return b
}

func TestSendReceiveDeleteRoundTrip(t *testing.T) {
	s := newServer(t)
	c := newClient(s)
	u := mustCreate(t, s, "orders", QueueOptions{})
	body := `{"id":"evt-1","note":"ünïcode ✓"}`
	sent := send(t, c, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String(body)})
	if aws.ToString(sent.MD5OfMessageBody) != md5Hex(body) || len(aws.ToString(sent.MessageId)) != 36 {
		t.Errorf("SendMessage = id %q md5 %q, want a UUID and the body's MD5", aws.ToString(sent.MessageId), aws.ToString(sent.MD5OfMessageBody))
	}
	if sent.SequenceNumber != nil {
		t.Errorf("SequenceNumber = %q on a standard queue, want none", aws.ToString(sent.SequenceNumber))
	}
	msgs := receive(t, c, u, 10) // the SDK checks MD5OfBody itself
	if len(msgs) != 1 || aws.ToString(msgs[0].Body) != body || aws.ToString(msgs[0].MessageId) != aws.ToString(sent.MessageId) {
		t.Fatalf("received %v, want the one message", bodies(msgs))
	}
	attrs := msgs[0].Attributes
	if attrs["ApproximateReceiveCount"] != "1" || attrs["SenderId"] != "AKIDSQSFAKETEST" || attrs["SentTimestamp"] == "" || attrs["ApproximateFirstReceiveTimestamp"] == "" {
		t.Errorf("attributes = %v, want count 1, SenderId, SentTimestamp, ApproximateFirstReceiveTimestamp", attrs)
	}
	if again := receive(t, c, u, 10); len(again) != 0 {
		t.Errorf("a second receive got %v while the first was in flight, want nothing", bodies(again))
	}
	if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: msgs[0].ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	if got := s.Messages("orders"); len(got) != 0 {
		t.Errorf("Messages after delete = %v, want none", got)
	}
	if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: msgs[0].ReceiptHandle}); err != nil {
		t.Errorf("deleting again = %v, want success (idempotent)", err)
	}
}

// docMD5 is an independent rendering of the documented
// MD5OfMessageAttributes algorithm, to check the server's.
func docMD5(attrs map[string]types.MessageAttributeValue) string {
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	put := func(s []byte) {
		binary.Write(&b, binary.BigEndian, int32(len(s)))
		b.Write(s)
	}
	for _, n := range names {
		v := attrs[n]
		put([]byte(n))
		put([]byte(aws.ToString(v.DataType)))
		if strings.HasPrefix(aws.ToString(v.DataType), "Binary") {
			b.WriteByte(2)
			put(v.BinaryValue)
		} else {
			b.WriteByte(1)
			put([]byte(aws.ToString(v.StringValue)))
		}
	}
	sum := md5.Sum(b.Bytes())
	return hex.EncodeToString(sum[:])
}

func TestMessageAttributesRoundTrip(t *testing.T) {
	s := newServer(t)
	c := newClient(s)
	u := mustCreate(t, s, "attrs", QueueOptions{})
	attrs := map[string]types.MessageAttributeValue{
		"reason":     {DataType: aws.String("String"), StringValue: aws.String("graph 503")},
		"attempt":    {DataType: aws.String("Number"), StringValue: aws.String("3")},
		"blob":       {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2, 255}},
		"trace.kind": {DataType: aws.String("String.custom"), StringValue: aws.String("x")},
	}
	sent := send(t, c, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("b"), MessageAttributes: attrs})
	if got, want := aws.ToString(sent.MD5OfMessageAttributes), docMD5(attrs); got != want {
		t.Errorf("sent MD5OfMessageAttributes = %s, want %s", got, want)
	}
	msgs := receive(t, c, u, 1)
	if len(msgs) != 1 {
		t.Fatalf("received %d messages, want 1", len(msgs))
	}
	got := msgs[0].MessageAttributes
	if len(got) != len(attrs) || aws.ToString(got["reason"].StringValue) != "graph 503" ||
		aws.ToString(got["attempt"].DataType) != "Number" || !bytes.Equal(got["blob"].BinaryValue, []byte{0, 1, 2, 255}) {
		t.Errorf("received attributes = %+v, want what was sent", got)
	}
	if aws.ToString(msgs[0].MD5OfMessageAttributes) != docMD5(attrs) {
		t.Errorf("received MD5OfMessageAttributes = %s, want %s", aws.ToString(msgs[0].MD5OfMessageAttributes), docMD5(attrs))
	}
	if snap := s.Messages("attrs"); snap[0].MessageAttributes["reason"] != "graph 503" {
		t.Errorf("Messages attributes = %v, want reason", snap[0].MessageAttributes)
	}

	t.Run("only the attributes asked for", func(t *testing.T) {
		u := mustCreate(t, s, "attrs2", QueueOptions{})
		send(t, c, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("b"), MessageAttributes: attrs})
		out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(u), MessageAttributeNames: []string{"trace.*", "attempt"}})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("ReceiveMessage = %v, %v", out, err)
		}
		m := out.Messages[0]
		want := map[string]types.MessageAttributeValue{"trace.kind": attrs["trace.kind"], "attempt": attrs["attempt"]}
		if len(m.MessageAttributes) != 2 || aws.ToString(m.MD5OfMessageAttributes) != docMD5(want) || len(m.Attributes) != 0 {
			t.Errorf("got attributes %v (md5 %s), system %v; want trace.kind and attempt only", m.MessageAttributes, aws.ToString(m.MD5OfMessageAttributes), m.Attributes)
		}
	})
}

func TestVisibilityTimeoutRedelivers(t *testing.T) {
	s := newServer(t)
	c := newClient(s)
	u := mustCreate(t, s, "vis", QueueOptions{VisibilityTimeout: 150 * time.Millisecond})
	send(t, c, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("again")})
	first := receive(t, c, u, 1)
	if len(first) != 1 || first[0].Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("first receive = %v", first)
	}
	// A long poll wakes when the message becomes visible again.
	start := time.Now()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(u), WaitTimeSeconds: 5,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("long poll = %v, %v; want the message again", out, err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("long poll took %v, want about the 150ms visibility timeout", waited)
	}
	second := out.Messages[0]
	if second.Attributes["ApproximateReceiveCount"] != "2" || aws.ToString(second.ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
		t.Errorf("redelivery: count %s, same receipt %v; want 2 and a new receipt handle", second.Attributes["ApproximateReceiveCount"], aws.ToString(second.ReceiptHandle) == aws.ToString(first[0].ReceiptHandle))
	}
	// An earlier receipt handle succeeds but does not delete on a standard queue.
	if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: first[0].ReceiptHandle}); err != nil {
		t.Errorf("delete with the stale handle = %v, want success", err)
	}
	if n := len(s.Messages("vis")); n != 1 {
		t.Errorf("%d messages after a stale-handle delete, want 1", n)
	}

	t.Run("ChangeMessageVisibility", func(t *testing.T) {
		_, err := c.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(u), ReceiptHandle: second.ReceiptHandle, VisibilityTimeout: 0})
		if err != nil {
			t.Fatalf("ChangeMessageVisibility: %v", err)
		}
		third := receive(t, c, u, 1)
		if len(third) != 1 || third[0].Attributes["ApproximateReceiveCount"] != "3" {
			t.Fatalf("after visibility 0 got %v, want the message at once with count 3", bodies(third))
		}
		_, err = c.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(u), ReceiptHandle: third[0].ReceiptHandle, VisibilityTimeout: 60})
		if err != nil {
			t.Fatalf("ChangeMessageVisibility 60: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
		if got := receive(t, c, u, 1); len(got) != 0 {
			t.Errorf("received %v although visibility was extended to 60s", bodies(got))
		}
	})
}

func TestRedriveToDeadLetterQueue(t *testing.T) {
	s := newServer(t)
	c := newClient(s)
	mustCreate(t, s, "dlq", QueueOptions{})
	u := mustCreate(t, s, "work", QueueOptions{VisibilityTimeout: 50 * time.Millisecond, MaxReceiveCount: 2, DeadLetterQueue: "dlq"})
	attrs := map[string]types.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("poison")}}
	sent := send(t, c, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("bad"), MessageAttributes: attrs})
	for i := 1; i <= 2; i++ {
		if got := receive(t, c, u, 1); len(got) != 1 {
			t.Fatalf("receive %d got %d messages, want 1", i, len(got))
		}
		time.Sleep(80 * time.Millisecond)
	}
	if got := receive(t, c, u, 1); len(got) != 0 {
		t.Errorf("third receive got %v, want nothing: the message exceeded maxReceiveCount 2", bodies(got))
	}
	if n := len(s.Messages("work")); n != 0 {
		t.Errorf("work queue holds %d messages, want 0", n)
	}
	dead := s.Messages("dlq")
	if len(dead) != 1 {
		t.Fatalf("dlq holds %d messages, want 1", len(dead))
	}
	d := dead[0]
	if d.ID != aws.ToString(sent.MessageId) || d.Body != "bad" || d.MessageAttributes["kind"] != "poison" ||
		d.Attributes["DeadLetterQueueSourceArn"] != "arn:aws:sqs:us-east-1:000000000000:work" {
		t.Errorf("dead letter = %+v, want the same id, body, attributes and the source ARN", d)
	}
}

func TestErrorsAreTypedForTheSDK(t *testing.T) {
	s := newServer(t)
	c := newClient(s)
	u := mustCreate(t, s, "q", QueueOptions{})
	ctx := context.Background()
	missing := strings.Replace(u, "/q", "/nope", 1)

	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(missing), MessageBody: aws.String("x")})
	var notExist *types.QueueDoesNotExist
	if !errors.As(err, &notExist) || notExist.ErrorCode() != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Errorf("SendMessage to a missing queue = %v, want *types.QueueDoesNotExist with the query code", err)
	}
	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
	if !errors.As(err, &notExist) {
		t.Errorf("GetQueueUrl(nope) = %v, want *types.QueueDoesNotExist", err)
	}
	_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: aws.String("garbage")})
	var badHandle *types.ReceiptHandleIsInvalid
	if !errors.As(err, &badHandle) {
		t.Errorf("DeleteMessage(garbage) = %v, want *types.ReceiptHandleIsInvalid", err)
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("x"), DelaySeconds: 901})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "InvalidParameterValue" || api.ErrorFault() != smithy.FaultClient {
		t.Errorf("DelaySeconds 901 = %v, want InvalidParameterValue (client fault)", err)
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("bad \x01 char")})
	var contents *types.InvalidMessageContents
	if !errors.As(err, &contents) {
		t.Errorf("a control character = %v, want *types.InvalidMessageContents", err)
	}
	send(t, c, &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("x")})
	got := receive(t, c, u, 1)
	c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(u), ReceiptHandle: got[0].ReceiptHandle})
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(u), ReceiptHandle: got[0].ReceiptHandle, VisibilityTimeout: 5})
	if !errors.As(err, &badHandle) {
		t.Errorf("ChangeMessageVisibility of a deleted message = %v, want *types.ReceiptHandleIsInvalid", err)
	}
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(u), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("1")}, {Id: aws.String("a"), MessageBody: aws.String("2")},
	}})
	var dup *types.BatchEntryIdsNotDistinct
	if !errors.As(err, &dup) {
		t.Errorf("repeated batch ids = %v, want *types.BatchEntryIdsNotDistinct", err)
	}
	_, err = c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q"), Attributes: map[string]string{"VisibilityTimeout": "5"}})
	var exists *types.QueueNameExists
	if !errors.As(err, &exists) {
		t.Errorf("CreateQueue with other attributes = %v, want *types.QueueNameExists", err)
	}
	if _, err := c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(u)}); err != nil {
		t.Fatalf("PurgeQueue: %v", err)
	}
	_, err = c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(u)})
	var purging *types.PurgeQueueInProgress
	if !errors.As(err, &purging) {
		t.Errorf("a second PurgeQueue within 60s = %v, want *types.PurgeQueueInProgress", err)
	}
}

func TestRequestsNeedTheJSONProtocolTarget(t *testing.T) {
	s := newServer(t)
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader(`{"QueueName":"x"}`))
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("x-amzn-query-error") != "InvalidAction;Sender" {
		t.Errorf("no X-Amz-Target: %d %q, want 400 InvalidAction;Sender", resp.StatusCode, resp.Header.Get("x-amzn-query-error"))
	}
}

func TestSetUnavailableFailsRequests(t *testing.T) {
	s := newServer(t)
	u := mustCreate(t, s, "q", QueueOptions{})
	c := newClient(s, func(o *sqs.Options) { o.RetryMaxAttempts = 1 }) // no retries: fast
	s.SetUnavailable(true)
	_, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("x")})
	var resp *smithyhttp.ResponseError
	var api smithy.APIError
	if !errors.As(err, &resp) || resp.HTTPStatusCode() != http.StatusServiceUnavailable || !errors.As(err, &api) || api.ErrorFault() != smithy.FaultServer {
		t.Errorf("SendMessage while unavailable = %v, want a 503 server fault", err)
	}
	if n := len(s.Messages("q")); n != 0 {
		t.Errorf("%d messages enqueued while unavailable, want 0", n)
	}
	s.SetUnavailable(false)
	send(t, newClient(s), &sqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("x")})
}

func TestBatchesAndQueueAttributes(t *testing.T) {
	s := newServer(t)
	c := newClient(s)
	ctx := context.Background()
	if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("main-dlq")}); err != nil {
		t.Fatalf("CreateQueue dlq: %v", err)
	}
	created, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("main"), Attributes: map[string]string{
		"VisibilityTimeout": "45",
		"RedrivePolicy":     `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:main-dlq","maxReceiveCount":"4"}`,
	}})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	u := aws.ToString(created.QueueUrl)
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(u), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("one"), MessageBody: aws.String("1")},
		{Id: aws.String("empty"), MessageBody: aws.String("")},
		{Id: aws.String("three"), MessageBody: aws.String("3")},
	}})
	if err != nil {
		t.Fatalf("SendMessageBatch: %v", err)
	}
	if len(out.Successful) != 2 || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "empty" || !out.Failed[0].SenderFault {
		t.Errorf("batch = %d ok, failed %+v; want 2 ok and entry 'empty' failed by the sender", len(out.Successful), out.Failed)
	}
	msgs := receive(t, c, u, 10)
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(u), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	want := map[string]string{
		"ApproximateNumberOfMessagesNotVisible": "2", "ApproximateNumberOfMessages": "0", "VisibilityTimeout": "45",
		"QueueArn":      "arn:aws:sqs:us-east-1:000000000000:main",
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:main-dlq","maxReceiveCount":4}`,
	}
	for k, v := range want {
		if attrs.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, attrs.Attributes[k], v)
		}
	}
	entries := []types.DeleteMessageBatchRequestEntry{{Id: aws.String("bogus"), ReceiptHandle: aws.String("nope")}}
	for i, m := range msgs {
		entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String("m" + strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(u), Entries: entries})
	if err != nil {
		t.Fatalf("DeleteMessageBatch: %v", err)
	}
	if len(del.Successful) != 2 || len(del.Failed) != 1 || aws.ToString(del.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Errorf("delete batch = %d ok, failed %+v; want 2 ok and 'bogus' ReceiptHandleIsInvalid", len(del.Successful), del.Failed)
	}
	if n := len(s.Messages("main")); n != 0 {
		t.Errorf("%d messages left, want 0", n)
	}
}

// Published MD5OfMessageAttributes values (the SellerName one is the SQS
// documentation's example attribute); an independent check of the encoding.
func TestMD5OfMessageAttributesKnownVectors(t *testing.T) {
	str := func(v string) *string { return &v }
	tests := []struct {
		name  string
		attrs map[string]attrValue
		want  string
	}{
		{"one string", map[string]attrValue{"SellerName": {DataType: "String", StringValue: str("Example Store")}}, "cd28f3b68aeee4b2eac9c66f2f694b58"},
		{"number and string, sorted by name", map[string]attrValue{
			"ordinal":  {DataType: "Number", StringValue: str("1")},
			"category": {DataType: "String", StringValue: str("test")},
		}, "d21ae90c49061e927f57df5f5d72be1f"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := md5OfAttributes(tt.attrs); got != tt.want {
				t.Errorf("md5OfAttributes = %q, want %q", got, tt.want)
			}
		})
	}
}
