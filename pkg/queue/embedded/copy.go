package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Counts is what a queue holds.
type Counts struct {
	Queued      int `json:"queued"`
	DeadLetters int `json:"deadLetters"`
	// Accepted is how many message ids are remembered to refuse reuse.
	Accepted int `json:"accepted"`
}

// Count counts what q holds.
func (q *Queue) Count(ctx context.Context) (Counts, error) {
	var c Counts
	err := q.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM queue), (SELECT COUNT(*) FROM dead_letters), (SELECT COUNT(*) FROM accepted)`).
		Scan(&c.Queued, &c.DeadLetters, &c.Accepted)
	return c, err
}

// copyTables are the queue's tables and the columns stint migrate copies,
// in order (seq is given anew, in the same order).
var copyTables = []struct{ table, columns string }{
	{"accepted", "id, digest, at"},
	{"queue", "id, grp, body, attempts, visible_at, leased, enqueued"},
	{"dead_letters", "id, grp, body, attempts, reason, code, at"},
}

// Copy copies every queued message (each contractor's in order, attempts
// kept, a leased one visible at once), every dead letter and every remembered id from
// from into to, which must be empty, in one transaction of to, and checks
// the counts. Nothing may use from meanwhile (stop stint serve first).
func Copy(ctx context.Context, from, to *Queue) (Counts, error) {
	want, err := from.Count(ctx)
	if err != nil {
		return Counts{}, err
	}
	if have, err := to.Count(ctx); err != nil || have != (Counts{}) {
		if err == nil {
			err = fmt.Errorf("the target queue is not empty (%d queued, %d dead letters, %d ids): migrate into a new database", have.Queued, have.DeadLetters, have.Accepted)
		}
		return Counts{}, err
	}
	err = to.tx(ctx, func(tx *sql.Tx) error {
		for _, t := range copyTables {
			if err := copyTable(ctx, from, to, tx, t.table, t.columns); err != nil {
				return fmt.Errorf("embedded queue: copy %s: %w", t.table, err)
			}
		}
		return nil
	})
	if err != nil {
		return Counts{}, err
	}
	got, err := to.Count(ctx)
	if err == nil && got != want {
		err = fmt.Errorf("embedded queue: the target holds %+v, the source %+v: was the source used meanwhile? Drop the target database and migrate again with stint serve stopped", got, want)
	}
	return got, err
}

func copyTable(ctx context.Context, from, to *Queue, tx *sql.Tx, table, columns string) error {
	order := "id"
	if table != "accepted" {
		order = "seq"
	}
	rows, err := from.db.QueryContext(ctx, "SELECT "+columns+" FROM "+table+" ORDER BY "+order)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := len(strings.Split(columns, ","))
	insert := to.d.bind("INSERT INTO " + table + " (" + columns + ") VALUES (?" + strings.Repeat(",?", n-1) + ")")
	for rows.Next() {
		values := make([]any, n)
		ptrs := make([]any, n)
		for i := range values {
			ptrs[i] = &values[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if table == "queue" && fmt.Sprint(values[5]) != "0" {
			// Leased by a worker that is gone: visible at once.
			values[4], values[5] = to.now().UnixNano(), 0
		}
		if _, err := tx.ExecContext(ctx, insert, values...); err != nil {
			return err
		}
	}
	return rows.Err()
}
