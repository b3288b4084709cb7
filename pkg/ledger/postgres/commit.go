package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Commit stores a settle in one transaction: the contractor, the
// engagements, the handled events and the audit entries, or none of them.
// The contractor is written first, so concurrent settles of one contractor
// queue on its row and all but the first find its version changed.
func (l *Ledger) Commit(ctx context.Context, ch engagement.Change) (engagement.Contractor, []engagement.Engagement, error) {
	var c engagement.Contractor
	var engs []engagement.Engagement
	err := l.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = l.putContractor(ctx, tx, ch.Contractor); err != nil {
			return err
		}
		engs = make([]engagement.Engagement, 0, len(ch.Engagements))
		for _, e := range ch.Engagements {
			stored, err := l.putEngagement(ctx, tx, e)
			if err != nil {
				return err
			}
			engs = append(engs, stored)
		}
		for _, seen := range ch.Seen {
			if err := l.putSeen(ctx, tx, seen); err != nil {
				return err
			}
		}
		return l.appendAudit(ctx, tx, ch.Audit)
	})
	if err != nil {
		return ch.Contractor, nil, err
	}
	return c, engs, nil
}

func (l *Ledger) putSeen(ctx context.Context, tx *sql.Tx, seen engagement.SeenEvent) error {
	if seen.At.IsZero() {
		seen.At = l.now()
	}
	seen.At = seen.At.UTC()
	body, err := json.Marshal(seen)
	if err != nil {
		return fmt.Errorf("postgres ledger: encode seen event %s: %w", seen.Key, err)
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO seen (key, record) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", seen.Key, body)
	return checkWritten(res, err, "seen event", seen.Key, 0)
}

// Seen reads the note of a handled event.
func (l *Ledger) Seen(ctx context.Context, key string) (engagement.SeenEvent, error) {
	var seen engagement.SeenEvent
	err := scanRecord(l.db.QueryRowContext(ctx, "SELECT record FROM seen WHERE key = $1", key), &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return seen, fault.Errorf(fault.NotFound, "postgres ledger: event %q not seen", key)
	}
	return seen, wrap(err, "read seen event %s", key)
}
