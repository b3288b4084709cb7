package engagement

import "context"

// Message is one event on its way from the webhook to the worker.
type Message struct {
	// ID deduplicates: the event id.
	ID string
	// Group orders: messages of one group are delivered in order. The
	// contractor key.
	Group string
	Body  []byte
}

// Queue takes messages durably: when Enqueue returns nil the message will
// be delivered at least once.
type Queue interface {
	Enqueue(ctx context.Context, m Message) error
}

// DeadLetters receives the messages that can never succeed, with the reason.
type DeadLetters interface {
	DeadLetter(ctx context.Context, m Message, reason error) error
}
