package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/oklog/ulid/v2"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Ledger is an engagement.Ledger on a PostgreSQL database.
type Ledger struct {
	db  *sql.DB
	now func() time.Time
}

var _ engagement.Ledger = (*Ledger)(nil)

// Open connects to the database at url (postgres:// or postgresql://, with
// pgx's parameters, and azure=entra for Entra ID authentication) and
// migrates its schema. Errors never show the URL's password.
func Open(ctx context.Context, url string, opts ...Option) (*Ledger, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	t, err := parse(url)
	if err != nil {
		return nil, err
	}
	var hooks []stdlib.OptionOpenDB
	if t.entra {
		cred := o.cred
		if cred == nil {
			if cred, err = azidentity.NewDefaultAzureCredential(nil); err != nil {
				return nil, fault.Errorf(fault.Invalid, "postgres ledger %s: azure=entra: build the default Azure credential: %w", t.shown, err)
			}
		}
		hooks = append(hooks, stdlib.OptionBeforeConnect(entraPassword(cred)))
	}
	db := stdlib.OpenDB(*t.config, hooks...)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, classify(fmt.Errorf("postgres ledger %s: connect: %w", t.shown, err))
	}
	if err := migrate(ctx, db, migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres ledger %s: migrate: %w", t.shown, err)
	}
	return &Ledger{db: db, now: time.Now}, nil
}

// DB is the database handle, for the embedded queue that shares the
// database.
func (l *Ledger) DB() *sql.DB { return l.db }

// Close closes the connections.
func (l *Ledger) Close() error { return l.db.Close() }

func (l *Ledger) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap(err, "begin")
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return wrap(tx.Commit(), "commit")
}

// Engagement reads one record.
func (l *Ledger) Engagement(ctx context.Context, id string) (engagement.Engagement, error) {
	var e engagement.Engagement
	err := scanRecord(l.db.QueryRowContext(ctx, "SELECT record FROM engagements WHERE id = $1", id), &e)
	if errors.Is(err, sql.ErrNoRows) {
		return e, fault.Errorf(fault.NotFound, "postgres ledger: engagement %q not found", id)
	}
	return e, wrap(err, "read engagement %s", id)
}

// putEngagement writes e, if its Version is the stored one, inside a
// Commit's transaction. A concurrent writer of the same row makes the
// statement wait for its transaction; PostgreSQL then re-checks the version
// on the row it committed, so exactly one of them writes.
func (l *Ledger) putEngagement(ctx context.Context, tx *sql.Tx, e engagement.Engagement) (engagement.Engagement, error) {
	if e.ID == "" || e.Contractor == "" {
		return e, fault.Errorf(fault.Invalid, "postgres ledger: engagement needs an id and a contractor")
	}
	stored := e
	stored.Version, stored.UpdatedAt = e.Version+1, l.now().UTC()
	body, err := json.Marshal(stored)
	if err != nil {
		return e, fmt.Errorf("postgres ledger: encode engagement %s: %w", e.ID, err)
	}
	var due *time.Time
	if t := stored.DueAt(); !t.IsZero() {
		due = &t
	}
	var res sql.Result
	if e.Version == 0 {
		res, err = tx.ExecContext(ctx, `INSERT INTO engagements (id, contractor, state, due_at, version, record)
			VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (id) DO NOTHING`, e.ID, e.Contractor, string(e.State), due, body)
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE engagements SET contractor = $1, state = $2, due_at = $3, version = $4, record = $5
			WHERE id = $6 AND version = $7`, e.Contractor, string(e.State), due, stored.Version, body, e.ID, e.Version)
	}
	if err := checkWritten(res, err, "engagement", e.ID, e.Version); err != nil {
		return e, err
	}
	return stored, nil
}

// ContractorEngagements lists a contractor's engagements by id.
func (l *Ledger) ContractorEngagements(ctx context.Context, key string) ([]engagement.Engagement, error) {
	return l.engagements(ctx, "SELECT record FROM engagements WHERE contractor = $1 ORDER BY id", key)
}

// Due lists the records whose due time has come, oldest first, from the
// engagements_due index.
func (l *Ledger) Due(ctx context.Context, now time.Time, limit int) ([]engagement.Engagement, error) {
	return l.engagements(ctx, `SELECT record FROM engagements WHERE due_at IS NOT NULL AND due_at <= $1
		ORDER BY due_at, id LIMIT $2`, now, limitOrAll(limit))
}

// Active yields the records in State active, a page at a time so that a
// long reconcile holds no transaction open. The state is written out, not
// a parameter, so that the planner can use the partial index
// engagements_active (state = 'active', engagement.Active).
func (l *Ledger) Active(ctx context.Context) iter.Seq2[engagement.Engagement, error] {
	const page = 500
	return func(yield func(engagement.Engagement, error) bool) {
		after := ""
		for {
			recs, err := l.engagements(ctx, `SELECT record FROM engagements WHERE state = 'active' AND id > $1 ORDER BY id LIMIT $2`,
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
	rows, err := l.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(err, "query engagements")
	}
	defer rows.Close()
	var out []engagement.Engagement
	for rows.Next() {
		var e engagement.Engagement
		if err := scanRecord(rows, &e); err != nil {
			return nil, wrap(err, "read engagement")
		}
		out = append(out, e)
	}
	return out, wrap(rows.Err(), "query engagements")
}

// Contractors yields every contractor record, a page at a time.
func (l *Ledger) Contractors(ctx context.Context) iter.Seq2[engagement.Contractor, error] {
	const page = 500
	return func(yield func(engagement.Contractor, error) bool) {
		after := ""
		for {
			batch, err := l.contractors(ctx, after, page)
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

func (l *Ledger) contractors(ctx context.Context, after string, limit int) ([]engagement.Contractor, error) {
	rows, err := l.db.QueryContext(ctx, "SELECT record FROM contractors WHERE key > $1 ORDER BY key LIMIT $2", after, limit)
	if err != nil {
		return nil, wrap(err, "query contractors")
	}
	defer rows.Close()
	var out []engagement.Contractor
	for rows.Next() {
		var c engagement.Contractor
		if err := scanRecord(rows, &c); err != nil {
			return nil, wrap(err, "read contractor")
		}
		out = append(out, c)
	}
	return out, wrap(rows.Err(), "query contractors")
}

// Marks reads the notes whose key starts with prefix.
func (l *Ledger) Marks(ctx context.Context, prefix string) (map[string]string, error) {
	rows, err := l.db.QueryContext(ctx, "SELECT key, value FROM marks WHERE starts_with(key, $1)", prefix)
	if err != nil {
		return nil, wrap(err, "query marks")
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, wrap(err, "read mark")
		}
		out[k] = v
	}
	return out, wrap(rows.Err(), "query marks")
}

// SetMark writes a note.
func (l *Ledger) SetMark(ctx context.Context, key, value string) error {
	_, err := l.db.ExecContext(ctx, "INSERT INTO marks (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	return wrap(err, "set mark %s", key)
}

// DeleteMark removes a note.
func (l *Ledger) DeleteMark(ctx context.Context, key string) error {
	_, err := l.db.ExecContext(ctx, "DELETE FROM marks WHERE key = $1", key)
	return wrap(err, "delete mark %s", key)
}

// Contractor reads what stint applied for one contractor.
func (l *Ledger) Contractor(ctx context.Context, key string) (engagement.Contractor, error) {
	var c engagement.Contractor
	err := scanRecord(l.db.QueryRowContext(ctx, "SELECT record FROM contractors WHERE key = $1", key), &c)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fault.Errorf(fault.NotFound, "postgres ledger: contractor %q not found", key)
	}
	return c, wrap(err, "read contractor %s", key)
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
		return c, fault.Errorf(fault.Invalid, "postgres ledger: contractor needs a key")
	}
	stored := c
	stored.Version, stored.UpdatedAt = c.Version+1, l.now().UTC()
	body, err := json.Marshal(stored)
	if err != nil {
		return c, fmt.Errorf("postgres ledger: encode contractor %s: %w", c.Key, err)
	}
	var res sql.Result
	if c.Version == 0 {
		res, err = tx.ExecContext(ctx, `INSERT INTO contractors (key, version, record) VALUES ($1, 1, $2)
			ON CONFLICT (key) DO NOTHING`, c.Key, body)
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE contractors SET version = $1, record = $2 WHERE key = $3 AND version = $4`,
			stored.Version, body, c.Key, c.Version)
	}
	if err := checkWritten(res, err, "contractor", c.Key, c.Version); err != nil {
		return c, err
	}
	return stored, nil
}

// Append adds entries to the audit trail in one transaction.
func (l *Ledger) Append(ctx context.Context, entries ...engagement.AuditEntry) error {
	return l.tx(ctx, func(tx *sql.Tx) error { return l.appendAudit(ctx, tx, entries) })
}

func (l *Ledger) appendAudit(ctx context.Context, tx *sql.Tx, entries []engagement.AuditEntry) error {
	for _, a := range entries {
		if a.ID == "" {
			a.ID = ulid.Make().String()
		}
		if a.At.IsZero() {
			a.At = l.now()
		}
		a.At = a.At.UTC()
		body, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("postgres ledger: encode audit entry: %w", err)
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO audit (id, contractor, record) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
			a.ID, a.Contractor, body)
		if err != nil {
			return wrap(err, "append audit entry %s", a.ID)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fault.Errorf(fault.Conflict, "postgres ledger: audit entry %s exists; the trail is append-only", a.ID)
		}
	}
	return nil
}

// Audit reads the trail, oldest first.
func (l *Ledger) Audit(ctx context.Context, q engagement.AuditQuery) ([]engagement.AuditEntry, error) {
	where, args := "", []any{limitOrAll(q.Limit)}
	if q.Contractor != "" {
		where, args = "WHERE contractor = $2", append(args, q.Contractor)
	}
	// The newest Limit entries, returned oldest first.
	rows, err := l.db.QueryContext(ctx, "SELECT record FROM (SELECT seq, record FROM audit "+where+
		" ORDER BY seq DESC LIMIT $1) newest ORDER BY seq", args...)
	if err != nil {
		return nil, wrap(err, "query audit")
	}
	defer rows.Close()
	var out []engagement.AuditEntry
	for rows.Next() {
		var a engagement.AuditEntry
		if err := scanRecord(rows, &a); err != nil {
			return nil, wrap(err, "read audit entry")
		}
		out = append(out, a)
	}
	return out, wrap(rows.Err(), "query audit")
}

type scanner interface{ Scan(...any) error }

func scanRecord(s scanner, into any) error {
	var body []byte
	if err := s.Scan(&body); err != nil {
		return err
	}
	return json.Unmarshal(body, into)
}

// checkWritten turns "no row written" into the conflict a losing writer gets.
func checkWritten(res sql.Result, err error, kind, key string, version int64) error {
	if err != nil {
		return wrap(err, "write %s %s", kind, key)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(err, "write %s %s", kind, key)
	}
	if n == 0 {
		if version == 0 {
			return fault.Errorf(fault.Conflict, "postgres ledger: %s %s already exists", kind, key)
		}
		return fault.Errorf(fault.Conflict, "postgres ledger: %s %s changed since version %d was read", kind, key, version)
	}
	return nil
}

func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return classify(fmt.Errorf("postgres ledger: "+format+": %w", append(args, err)...))
}

// limitOrAll turns "no limit" (0 or less) into SQL's LIMIT NULL.
func limitOrAll(n int) any {
	if n <= 0 {
		return nil
	}
	return n
}
