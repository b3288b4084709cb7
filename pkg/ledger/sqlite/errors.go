package sqlite

import (
	"errors"

	driver "modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/stintdev/stint/pkg/fault"
)

// SQLite errors are told apart by the driver's result code, never by their
// message, which SQLite does not promise to keep. The driver reports
// extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_CONSTRAINT_UNIQUE, ...); the
// primary code is the low byte.

// code is the SQLite result code behind err, or 0 if err did not come from
// SQLite.
func code(err error) int {
	var e *driver.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// busy reports a lock another connection held: SQLITE_BUSY (another
// connection or process holds the file's lock past busy_timeout, or a stale
// read cannot become a write) or SQLITE_LOCKED (a table lock within this
// process), with any of their extended codes.
func busy(err error) bool {
	switch code(err) & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// uniqueViolation reports an insert whose key is already stored.
func uniqueViolation(err error) bool {
	switch code(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// classify marks a busy or locked database as transient: the write may
// succeed once the other holder lets go, so the caller should retry.
func classify(err error) error {
	if busy(err) {
		return fault.Wrap(fault.Transient, err)
	}
	return err
}
