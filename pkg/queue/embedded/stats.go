package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Stats is the queue at one moment, as metrics report it.
type Stats struct {
	// Messages are the queued messages, leased ones included (Len).
	Messages int
	// Oldest is when the oldest of them was queued (or replayed from the
	// dead letters); zero when there is none.
	Oldest time.Time
	// DeadLetters is the length of the dead-letter list.
	DeadLetters int
}

// Stats reads the queue's depth, its oldest message and its dead letters
// in one query.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	var oldest sql.NullInt64
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*), MIN(enqueued), (SELECT COUNT(*) FROM dead_letters) FROM queue`).
		Scan(&s.Messages, &oldest, &s.DeadLetters)
	if err != nil {
		return Stats{}, fmt.Errorf("embedded queue: stats: %w", err)
	}
	if oldest.Valid {
		s.Oldest = time.Unix(0, oldest.Int64)
	}
	return s, nil
}
