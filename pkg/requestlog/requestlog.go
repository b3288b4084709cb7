// Package requestlog carries, in a context, the ids of the remote writes made
// while handling one event (Graph's request-id headers), so that the
// handler's single log line can name them.
package requestlog

import (
	"context"
	"sync"
)

type key struct{}

// Log collects request ids; safe for concurrent use.
type Log struct {
	mu  sync.Mutex
	ids []string
}

// New returns a context whose writes are noted in a new Log.
func New(ctx context.Context) (context.Context, *Log) {
	l := &Log{}
	return context.WithValue(ctx, key{}, l), l
}

// Note records id in the context's Log, if it has one.
func Note(ctx context.Context, id string) {
	if l, ok := ctx.Value(key{}).(*Log); ok && id != "" {
		l.mu.Lock()
		l.ids = append(l.ids, id)
		l.mu.Unlock()
	}
}

// IDs returns the ids noted so far, in order.
func (l *Log) IDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ids...)
}
