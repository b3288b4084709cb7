package engagement

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/stintdev/stint/pkg/fault"
)

// Message is one event on its way from the webhook to the worker.
type Message struct {
	// ID deduplicates: the event's key, its source and id
	// (event.Event.Key).
	ID string
	// Digest fingerprints what the event says (event.Event.Digest): the
	// same ID with another Digest is another event reusing the id.
	Digest string
	// Group orders: messages of one group are delivered in order. The
	// contractor key.
	Group string
	Body  []byte
}

// Queue takes messages durably: when Enqueue returns nil the message will
// be delivered at least once. A message whose ID was taken before is not
// taken again: Enqueue answers nil when it says the same (its Digest), and a
// fault.Conflict error when it says something else — where the queue can
// tell (the embedded queue remembers what it accepted; SQS deduplicates
// only identical messages, and the worker refuses the rest).
type Queue interface {
	Enqueue(ctx context.Context, m Message) error
}

// DeadLetters receives the messages that can never succeed, with the reason.
type DeadLetters interface {
	DeadLetter(ctx context.Context, m Message, reason error) error
}

// Verdict is what handling a message came to. The handler says what
// happened; the transport that owns the message decides how to settle it
// (SQS: delete it, list it as a batch item failure, or send it to the
// dead-letter queue; the embedded queue: acknowledge, retry after a
// backoff, or move it to its dead-letter list; Service Bus: complete,
// abandon, or dead-letter).
type Verdict struct {
	Outcome Settle
	// Err is why a message is retried or dead: its fault code says which
	// (the one table is worker.VerdictOf), its text is the reason.
	Err error
	// Wait is the least time before a retry: what Graph asked for, if it
	// did.
	Wait time.Duration
	// Key is the event's key (source and id) when the body parsed: what a
	// dead letter is known by, whatever the queue's own message id is.
	Key string
}

// Settle is what to do with a message.
type Settle string

// The outcomes.
const (
	// Done: applied (or nothing to do); remove it.
	Done Settle = "done"
	// Retry: a transient failure; deliver it again later, in order.
	Retry Settle = "retry"
	// Dead: it can never succeed; dead-letter it with Code and Reason.
	Dead Settle = "dead"
)

// Code is the stint code of a dead message (fault.CodeOf its Err).
func (v Verdict) Code() fault.Code { return fault.CodeOf(v.Err) }

// Reason is why it is retried or dead, in words.
func (v Verdict) Reason() string {
	if v.Err == nil {
		return ""
	}
	return v.Err.Error()
}

// DedupID is a queue's deduplication id (SQS's MessageDeduplicationId,
// Service Bus's MessageId) for a message: a SHA-256, in hex, of its key and
// digest — 64 characters, within both services' 128 whatever the key
// holds, and distinct for distinct keys, so another event reusing a key is
// not dropped unseen (the worker refuses it, with a reason).
func DedupID(key, digest string) string {
	sum := sha256.Sum256([]byte(key + "\x00" + digest))
	return hex.EncodeToString(sum[:])
}

// GroupID is a queue's ordering group (SQS's MessageGroupId, Service Bus's
// SessionId) for a contractor: the contractor key (a lower-case ASCII
// email, printable), or past the services' 128 characters a SHA-256 of it
// in hex — one contractor, one group, either way.
func GroupID(key string) string {
	if len(key) <= 128 {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}
