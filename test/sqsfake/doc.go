// Package sqsfake is an Amazon SQS endpoint for tests: it speaks the AWS JSON
// 1.0 protocol (POST / with X-Amz-Target: AmazonSQS.<Operation> and
// Content-Type application/x-amz-json-1.0) on a loopback port, so the real
// aws-sdk-go-v2 SQS client (BaseEndpoint or AWS_ENDPOINT_URL_SQS = URL())
// talks to it unchanged, and it drives Lambda functions from a queue the way
// Lambda's SQS event source mapping does (StartMapping).
//
// It is a fake for the far side of a wire that tests cannot reach. It follows
// the SQS API reference and developer guide, not any particular client.
//
// # Faithful
//
//   - Operations: SendMessage, SendMessageBatch, ReceiveMessage,
//     DeleteMessage, DeleteMessageBatch, ChangeMessageVisibility,
//     ChangeMessageVisibilityBatch, CreateQueue, GetQueueUrl,
//     GetQueueAttributes, PurgeQueue, ListQueues, with the documented member
//     names. Other SQS operations answer UnsupportedOperation; unknown
//     targets answer UnknownOperationException.
//   - Checksums: MD5OfMessageBody/MD5OfBody are the hex MD5 of the body
//     (the SDK validates them); MD5OfMessageAttributes and
//     MD5OfMessageSystemAttributes follow the documented length-prefixed
//     encoding over attributes sorted by name.
//   - Errors: HTTP 400 with {"__type":"com.amazonaws.sqs#<Shape>","message":…}
//     and x-amzn-query-error: <query code>;Sender, so the SDK returns its
//     typed errors (*types.QueueDoesNotExist, *types.ReceiptHandleIsInvalid,
//     *types.MessageNotInflight, *types.BatchEntryIdsNotDistinct, …) and
//     ErrorCode() gives the query code SQS documents
//     (AWS.SimpleQueueService.NonExistentQueue, InvalidParameterValue,
//     MissingParameter, …). Batch entries fail individually in Failed.
//   - FIFO: MessageGroupId is required; MessageDeduplicationId is required
//     unless ContentBasedDeduplication (then the SHA-256 of the body); a
//     duplicate within 5 minutes is accepted with the original MessageId and
//     SequenceNumber but not enqueued; per-message DelaySeconds is refused.
//     Within a group messages come in order and nothing more of a group is
//     delivered while one of its messages is in flight; one receive returns
//     messages of several groups. SequenceNumber is a 20-digit increasing
//     number.
//   - Visibility: a received message is hidden for the queue's (or the
//     request's) visibility timeout, then delivered again with a new receipt
//     handle and a higher ApproximateReceiveCount; ChangeMessageVisibility
//     counts from now and needs the message in flight (MessageNotInflight).
//   - Receipt handles: deleting an already deleted message succeeds; on a
//     standard queue an older receipt handle succeeds without deleting (as
//     documented).
//   - Redrive: a message whose receive count would exceed maxReceiveCount
//     moves to the dead-letter queue instead of being delivered, keeping its
//     MessageId, body, attributes and message attributes, and gains
//     DeadLetterQueueSourceArn. The dead-letter queue must exist and be of
//     the same type.
//   - Long polling up to WaitTimeSeconds (0 to 20, defaulting to the queue's
//     ReceiveMessageWaitTimeSeconds), MaxNumberOfMessages 1 to 10, queue and
//     message delays, PurgeQueue at most once per 60 s per queue, message
//     size (1 MiB) and character checks, batch rules (1 to 10 entries,
//     distinct ids of up to 80 letters, digits, - and _).
//   - The mapping builds events.SQSEvent records as Lambda does and applies
//     the documented partial-batch-response rules (see StartMapping).
//
// # Simplified
//
//   - Signatures and credentials are not checked (SenderId is the request's
//     access key id). One account (000000000000) and region (us-east-1).
//   - A short poll (WaitTimeSeconds 0) sees every message, where SQS samples
//     a subset of its servers; a standard queue delivers in send order and
//     exactly once per visibility period (SQS may deliver duplicates).
//   - VisibilityTimeout in QueueOptions may be under a second so tests are
//     fast; the wire only carries whole seconds (GetQueueAttributes rounds
//     up).
//   - Not modelled: message retention, the 12-hour limit on a message's
//     total invisibility, the in-flight message quotas, ReceiveRequestAttemptId,
//     FIFO high throughput, tags, policies, KMS, queue deletion and
//     SetQueueAttributes. ListQueues does not paginate.
//   - The mapping polls with one poller and invokes one batch at a time
//     (Lambda scales pollers and, on FIFO, invokes message groups
//     concurrently). It reads the queue directly rather than over HTTP; it
//     does not poll while SetUnavailable is on. Md5OfMessageAttributes is ""
//     rather than null when a message has no attributes, because
//     events.SQSMessage holds a string.
//
// # Unsure
//
//   - The __type of errors that are not modelled shapes (InvalidParameterValue,
//     MissingParameter, ServiceUnavailable) is given the com.amazonaws.sqs
//     namespace here; the SDK reads their code from x-amzn-query-error.
//   - On a FIFO queue, DeleteMessage with a receipt handle from an earlier
//     receive, or after the visibility timeout expired, answers
//     ReceiptHandleIsInvalid ("The receipt handle has expired.").
//   - A redriven message keeps its ApproximateReceiveCount and
//     SentTimestamp; on a FIFO dead-letter queue it gets a new
//     SequenceNumber.
//   - MD5OfMessageAttributes in ReceiveMessage covers the attributes
//     returned (those asked for with MessageAttributeNames). The v2 SDK does
//     not validate this checksum; the tests check it against an independent
//     implementation of the documented algorithm.
//   - SQS accepts MessageGroupId on standard queues (fair queues, 2025) and
//     returns it as an attribute; this fake does the same, but refuses
//     MessageDeduplicationId there (InvalidParameterValue).
//   - The mapping delivers a FIFO receive as one batch, which may hold
//     several message groups (each group's messages together and in order).
package sqsfake
