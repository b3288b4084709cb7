// Package sqlledger is the engagement.Ledger both SQL backends share: the
// queries, the optimistic writes and the JSON records, written once for
// the schema that the sqlite and postgres packages each create and migrate
// in their own way. A Dialect holds what differs between the two
// databases; opening, migrating and the schema stay in those packages.
//
// Records are stored whole as JSON beside the columns the queries need.
// Writes are optimistic, on the version column: an update is "... WHERE
// version = the one read", a create is "INSERT ... ON CONFLICT DO
// NOTHING", and no row written is a fault.Conflict.
package sqlledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/sqlnum"
)

// Dialect is what differs between the SQL databases the ledger runs on.
type Dialect struct {
	// Name begins every error message: "sqlite ledger", "postgres ledger".
	Name string
	// Numbered rewrites the queries' ? placeholders as $1, $2, ... (for
	// PostgreSQL).
	Numbered bool
	// Time is how a time is stored in engagements.due_at and leases.until:
	// the value given to the driver.
	Time func(time.Time) any
	// NoLimit is the LIMIT parameter that means no limit.
	NoLimit any
	// StartsWith is the condition that the column key begins with the
	// query's one parameter.
	StartsWith string
	// Classify marks the errors that may pass as fault.Transient.
	Classify func(error) error
	// UniqueViolation reports an insert whose key is already stored.
	UniqueViolation func(error) bool
	// TxOptions begin every transaction. What BEGIN does may also come
	// from how the database was opened (SQLite's _txlock=immediate).
	TxOptions *sql.TxOptions
}

// Ledger is an engagement.Ledger on a database whose schema is migrated.
// The sqlite and postgres packages each embed one in their own Ledger.
type Ledger struct {
	db  *sql.DB
	d   Dialect
	now func() time.Time
}

// New is a ledger on db, which the caller has opened and migrated; Close
// closes db.
func New(db *sql.DB, d Dialect) *Ledger {
	return &Ledger{db: db, d: d, now: time.Now}
}

// DB is the database handle, for the embedded queue that shares the
// database.
func (l *Ledger) DB() *sql.DB { return l.db }

// Close closes the database.
func (l *Ledger) Close() error { return l.db.Close() }

// tx runs f in one transaction, committed if f returns nil.
func (l *Ledger) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := l.db.BeginTx(ctx, l.d.TxOptions)
	if err != nil {
		return l.wrap(err, "begin")
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return l.wrap(tx.Commit(), "commit")
}

// q is query in the dialect's placeholders. No query has a ? inside a
// string literal.
func (l *Ledger) q(query string) string {
	if !l.d.Numbered {
		return query
	}
	return sqlnum.Numbered(query)
}

// time is t as stored, or NULL for the zero time.
func (l *Ledger) time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return l.d.Time(t)
}

// limit is n as a LIMIT parameter: 0 or less is no limit.
func (l *Ledger) limit(n int) any {
	if n <= 0 {
		return l.d.NoLimit
	}
	return n
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
func (l *Ledger) checkWritten(res sql.Result, err error, kind, key string, version int64) error {
	if err != nil {
		return l.wrap(err, "write %s %s", kind, key)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return l.wrap(err, "write %s %s", kind, key)
	}
	if n == 0 {
		if version == 0 {
			return l.errorf(fault.Conflict, "%s %s already exists", kind, key)
		}
		return l.errorf(fault.Conflict, "%s %s changed since version %d was read", kind, key, version)
	}
	return nil
}

// errorf is a fault with the ledger's name before the message.
func (l *Ledger) errorf(code fault.Code, format string, args ...any) error {
	return fault.Errorf(code, l.d.Name+": "+format, args...)
}

// encodeError is the failure to encode a record as JSON.
func (l *Ledger) encodeError(err error, format string, args ...any) error {
	return fmt.Errorf(l.d.Name+": encode "+format+": %w", append(args, err)...)
}

// wrap puts the ledger's name and what it was doing before err, and
// classifies it.
func (l *Ledger) wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return l.d.Classify(fmt.Errorf(l.d.Name+": "+format+": %w", append(args, err)...))
}
