// Package sqs sends stint's messages to Amazon SQS FIFO queues: the event
// queue the webhook fills and the dead-letter queue the worker fills.
//
// MessageGroupId is the contractor key, so SQS delivers one contractor's
// events in order. MessageDeduplicationId is a SHA-256 of the event's key
// (its source and id) and digest (what it says), so a delivery the sender
// retries within SQS's five-minute window is enqueued once, while another
// event reusing the id is not silently dropped as a duplicate: it reaches
// the worker, which refuses it (dead letter, code conflict). The worker's
// own record of handled events covers any later repeat.
package sqs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// maxReason is how much of a failure reason a message attribute carries.
const maxReason = 1024

// Queue is one SQS queue.
type Queue struct {
	client *awssqs.Client
	url    string
}

var (
	_ engagement.Queue       = (*Queue)(nil)
	_ engagement.DeadLetters = (*Queue)(nil)
)

// Open builds a client from the AWS SDK's standard configuration (region,
// credentials, AWS_ENDPOINT_URL_SQS) for the queue at url.
func Open(ctx context.Context, variable, url string) (*Queue, error) {
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return nil, fault.Errorf(fault.Invalid, "%s %q: want an SQS queue URL, like https://sqs.eu-west-1.amazonaws.com/123456789012/stint-events.fifo", variable, url)
	}
	if !strings.HasSuffix(url, ".fifo") {
		return nil, fault.Errorf(fault.Invalid, "%s %q: want a FIFO queue (its name ends in .fifo): events of one contractor must stay in order", variable, url)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqs: load AWS configuration: %w", err)
	}
	return New(awssqs.NewFromConfig(cfg), url), nil
}

// New wraps a client.
func New(client *awssqs.Client, url string) *Queue { return &Queue{client: client, url: url} }

// Enqueue sends m; when it returns nil, SQS holds the message durably.
func (q *Queue) Enqueue(ctx context.Context, m engagement.Message) error {
	_, err := q.client.SendMessage(ctx, &awssqs.SendMessageInput{
		QueueUrl:               &q.url,
		MessageBody:            aws.String(string(m.Body)),
		MessageGroupId:         aws.String(engagement.GroupID(m.Group)),
		MessageDeduplicationId: aws.String(engagement.DedupID(m.ID, m.Digest)),
	})
	return classify(err, "send message "+m.ID)
}

// DeadLetter sends m with the reason in message attributes: stint-reason
// (the error), stint-code (its fault code) and stint-event-key (the event's
// source and id, when the message is an event).
func (q *Queue) DeadLetter(ctx context.Context, m engagement.Message, reason error) error {
	text := reason.Error()
	if len(text) > maxReason {
		text = text[:maxReason] + "…"
	}
	attrs := map[string]types.MessageAttributeValue{
		"stint-reason": {DataType: aws.String("String"), StringValue: aws.String(text)},
		"stint-code":   {DataType: aws.String("String"), StringValue: aws.String(string(fault.CodeOf(reason)))},
	}
	if m.ID != "" {
		attrs["stint-event-key"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(m.ID)}
	}
	group := m.Group
	if group == "" {
		group = "unparsed"
	}
	_, err := q.client.SendMessage(ctx, &awssqs.SendMessageInput{
		QueueUrl:               &q.url,
		MessageBody:            aws.String(string(m.Body)),
		MessageGroupId:         aws.String(engagement.GroupID(group)),
		MessageDeduplicationId: aws.String(engagement.DedupID("dlq "+m.ID, string(m.Body))),
		MessageAttributes:      attrs,
	})
	return classify(err, "dead-letter message "+m.ID)
}

func classify(err error, op string) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("sqs: %s: %w", op, err)
	var api smithy.APIError
	var netErr net.Error
	switch {
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "UnrecognizedClientException", "KMS.AccessDeniedException":
			return fault.Wrap(fault.Unauthorized, err)
		case "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "InvalidParameterValue", "MissingParameter", "InvalidAddress":
			return fault.Wrap(fault.Invalid, err)
		}
		return fault.Wrap(fault.Transient, err)
	case errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded):
		return fault.Wrap(fault.Transient, err)
	}
	return fault.Wrap(fault.Transient, err)
}
