package sqlledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"iter"

	"github.com/stintdev/stint/pkg/engagement"
)

// Engagements yields every record, ended ones included, a page at a time
// (for stint migrate).
func (l *Ledger) Engagements(ctx context.Context) iter.Seq2[engagement.Engagement, error] {
	return pages(ctx, l, "SELECT id, record FROM engagements WHERE id > ? ORDER BY id LIMIT 500", func(e engagement.Engagement) string { return e.ID })
}

// SeenEvents yields every handled event's note, a page at a time (for
// stint migrate).
func (l *Ledger) SeenEvents(ctx context.Context) iter.Seq2[engagement.SeenEvent, error] {
	return pages(ctx, l, "SELECT key, record FROM seen WHERE key > ? ORDER BY key LIMIT 500", func(s engagement.SeenEvent) string { return s.Key })
}

// pages runs query (two columns, a key and a JSON record; one parameter,
// the last key of the previous page) page after page.
func pages[T any](ctx context.Context, l *Ledger, query string, key func(T) string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		after := ""
		for {
			var batch []T
			rows, err := l.db.QueryContext(ctx, l.q(query), after)
			if err == nil {
				for rows.Next() {
					var k, body string
					var v T
					if err = rows.Scan(&k, &body); err == nil {
						err = json.Unmarshal([]byte(body), &v)
					}
					if err != nil {
						break
					}
					batch = append(batch, v)
				}
				if err == nil {
					err = rows.Err()
				}
				rows.Close()
			}
			if err != nil {
				var zero T
				yield(zero, l.wrap(err, "list"))
				return
			}
			for _, v := range batch {
				if !yield(v, nil) {
					return
				}
			}
			if len(batch) == 0 {
				return
			}
			after = key(batch[len(batch)-1])
		}
	}
}

// Load writes records as they are — versions, times and ids kept — in one
// transaction, for stint migrate into an empty ledger. A record that
// exists already is a conflict.
func (l *Ledger) Load(ctx context.Context, ch engagement.Change) error {
	return l.tx(ctx, func(tx *sql.Tx) error {
		if c := ch.Contractor; c.Key != "" {
			body, err := json.Marshal(c)
			if err != nil {
				return l.encodeError(err, "contractor %s", c.Key)
			}
			res, err := tx.ExecContext(ctx, l.q("INSERT INTO contractors (key, version, record) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING"),
				c.Key, c.Version, body)
			if err := l.checkWritten(res, err, "contractor", c.Key, 0); err != nil {
				return err
			}
		}
		for _, e := range ch.Engagements {
			body, err := json.Marshal(e)
			if err != nil {
				return l.encodeError(err, "engagement %s", e.ID)
			}
			res, err := tx.ExecContext(ctx, l.q(`INSERT INTO engagements (id, contractor, state, due_at, version, record)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`), e.ID, e.Contractor, string(e.State), l.time(e.DueAt()), e.Version, body)
			if err := l.checkWritten(res, err, "engagement", e.ID, 0); err != nil {
				return err
			}
		}
		for _, s := range ch.Seen {
			if err := l.putSeen(ctx, tx, s); err != nil {
				return err
			}
		}
		return l.appendAudit(ctx, tx, ch.Audit)
	})
}
