package sqlledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"iter"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// page is how many records a paged read asks for at a time.
const page = 500

// Engagement reads one record.
func (l *Ledger) Engagement(ctx context.Context, id string) (engagement.Engagement, error) {
	var e engagement.Engagement
	err := scanRecord(l.db.QueryRowContext(ctx, l.q("SELECT record FROM engagements WHERE id = ?"), id), &e)
	if errors.Is(err, sql.ErrNoRows) {
		return e, l.errorf(fault.NotFound, "engagement %q not found", id)
	}
	return e, l.wrap(err, "read engagement %s", id)
}

// putEngagement writes e, if its Version is the stored one, inside a
// Commit's transaction. On PostgreSQL a concurrent writer of the same row
// makes the statement wait for its transaction, and the version is then
// re-checked on the row it committed, so exactly one of them writes.
func (l *Ledger) putEngagement(ctx context.Context, tx *sql.Tx, e engagement.Engagement) (engagement.Engagement, error) {
	if e.ID == "" || e.Contractor == "" {
		return e, l.errorf(fault.Invalid, "engagement needs an id and a contractor")
	}
	stored := e
	stored.Version, stored.UpdatedAt = e.Version+1, l.now().UTC()
	body, err := json.Marshal(stored)
	if err != nil {
		return e, l.encodeError(err, "engagement %s", e.ID)
	}
	due := l.time(stored.DueAt())
	var res sql.Result
	if e.Version == 0 {
		res, err = tx.ExecContext(ctx, l.q(`INSERT INTO engagements (id, contractor, state, due_at, version, record)
			VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (id) DO NOTHING`), e.ID, e.Contractor, string(e.State), due, body)
	} else {
		res, err = tx.ExecContext(ctx, l.q(`UPDATE engagements SET contractor = ?, state = ?, due_at = ?, version = ?, record = ?
			WHERE id = ? AND version = ?`), e.Contractor, string(e.State), due, stored.Version, body, e.ID, e.Version)
	}
	if err := l.checkWritten(res, err, "engagement", e.ID, e.Version); err != nil {
		return e, err
	}
	return stored, nil
}

// ContractorEngagements lists a contractor's engagements by id.
func (l *Ledger) ContractorEngagements(ctx context.Context, key string) ([]engagement.Engagement, error) {
	return l.engagements(ctx, "SELECT record FROM engagements WHERE contractor = ? ORDER BY id", key)
}

// Due lists the records whose due time has come, oldest first.
func (l *Ledger) Due(ctx context.Context, now time.Time, limit int) ([]engagement.Engagement, error) {
	return l.engagements(ctx, `SELECT record FROM engagements WHERE due_at IS NOT NULL AND due_at <= ?
		ORDER BY due_at, id LIMIT ?`, l.d.Time(now), l.limit(limit))
}

// Active yields the records in State active, a page at a time so that a
// long reconcile holds no transaction open. The state is written out
// (engagement.Active), not a parameter, so that PostgreSQL's planner can
// use the partial index engagements_active.
func (l *Ledger) Active(ctx context.Context) iter.Seq2[engagement.Engagement, error] {
	return func(yield func(engagement.Engagement, error) bool) {
		after := ""
		for {
			recs, err := l.engagements(ctx, "SELECT record FROM engagements WHERE state = 'active' AND id > ? ORDER BY id LIMIT ?",
				after, page)
			if err != nil {
				yield(engagement.Engagement{}, err)
				return
			}
			for _, e := range recs {
				if !yield(e, nil) {
					return
				}
			}
			if len(recs) < page {
				return
			}
			after = recs[len(recs)-1].ID
		}
	}
}

func (l *Ledger) engagements(ctx context.Context, query string, args ...any) ([]engagement.Engagement, error) {
	return records[engagement.Engagement](ctx, l, "engagements", query, args...)
}

// records runs query (one column, a JSON record) on table and decodes
// every row.
func records[T any](ctx context.Context, l *Ledger, table, query string, args ...any) ([]T, error) {
	rows, err := l.db.QueryContext(ctx, l.q(query), args...)
	if err != nil {
		return nil, l.wrap(err, "query %s", table)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := scanRecord(rows, &v); err != nil {
			return nil, l.wrap(err, "read %s", table)
		}
		out = append(out, v)
	}
	return out, l.wrap(rows.Err(), "query %s", table)
}

// Contractors yields every contractor record, a page at a time.
func (l *Ledger) Contractors(ctx context.Context) iter.Seq2[engagement.Contractor, error] {
	return func(yield func(engagement.Contractor, error) bool) {
		after := ""
		for {
			batch, err := records[engagement.Contractor](ctx, l, "contractors",
				"SELECT record FROM contractors WHERE key > ? ORDER BY key LIMIT ?", after, page)
			if err != nil {
				yield(engagement.Contractor{}, err)
				return
			}
			for _, c := range batch {
				if !yield(c, nil) {
					return
				}
			}
			if len(batch) < page {
				return
			}
			after = batch[len(batch)-1].Key
		}
	}
}

// Contractor reads what stint applied for one contractor.
func (l *Ledger) Contractor(ctx context.Context, key string) (engagement.Contractor, error) {
	var c engagement.Contractor
	err := scanRecord(l.db.QueryRowContext(ctx, l.q("SELECT record FROM contractors WHERE key = ?"), key), &c)
	if errors.Is(err, sql.ErrNoRows) {
		return c, l.errorf(fault.NotFound, "contractor %q not found", key)
	}
	return c, l.wrap(err, "read contractor %s", key)
}

// PutContractor stores c if its Version is the stored one.
func (l *Ledger) PutContractor(ctx context.Context, c engagement.Contractor) (engagement.Contractor, error) {
	var stored engagement.Contractor
	err := l.tx(ctx, func(tx *sql.Tx) error {
		var err error
		stored, err = l.putContractor(ctx, tx, c)
		return err
	})
	if err != nil {
		return c, err
	}
	return stored, nil
}

func (l *Ledger) putContractor(ctx context.Context, tx *sql.Tx, c engagement.Contractor) (engagement.Contractor, error) {
	if c.Key == "" {
		return c, l.errorf(fault.Invalid, "contractor needs a key")
	}
	stored := c
	stored.Version, stored.UpdatedAt = c.Version+1, l.now().UTC()
	body, err := json.Marshal(stored)
	if err != nil {
		return c, l.encodeError(err, "contractor %s", c.Key)
	}
	var res sql.Result
	if c.Version == 0 {
		res, err = tx.ExecContext(ctx, l.q(`INSERT INTO contractors (key, version, record) VALUES (?, 1, ?)
			ON CONFLICT (key) DO NOTHING`), c.Key, body)
	} else {
		res, err = tx.ExecContext(ctx, l.q("UPDATE contractors SET version = ?, record = ? WHERE key = ? AND version = ?"),
			stored.Version, body, c.Key, c.Version)
	}
	if err := l.checkWritten(res, err, "contractor", c.Key, c.Version); err != nil {
		return c, err
	}
	return stored, nil
}
