package engagement

import "context"

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
