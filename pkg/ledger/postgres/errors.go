package postgres

import (
	"database/sql/driver"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stintdev/stint/pkg/fault"
)

// PostgreSQL errors are told apart by their SQLSTATE code, never by their
// message, which is translated and may change:
// https://www.postgresql.org/docs/current/errcodes-appendix.html

// sqlState is the SQLSTATE behind err, or "" if the server did not report one.
func sqlState(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// transient reports a failure that may pass: a lost or refused connection,
// a server shutting down or starting, one short of resources, or a
// transaction the server aborted to break a deadlock or keep it
// serializable (the same work again may succeed).
func transient(err error) bool {
	code := sqlState(err)
	switch {
	case code == "40001", code == "40P01": // serialization_failure, deadlock_detected
		return true
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"): // connection exception, insufficient resources
		return true
	case code == "57P01", code == "57P02", code == "57P03": // admin or crash shutdown, cannot connect now
		return true
	case code != "":
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, driver.ErrBadConn) || pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}

// uniqueViolation reports an insert whose key is already stored
// (unique_violation).
func uniqueViolation(err error) bool { return sqlState(err) == "23505" }

// classify marks transient failures as fault.Transient, so that the work
// is retried later. Everything else is left unclassified (fault.Internal,
// which is retried too): a refused password or a missing privilege is a
// misconfiguration to fix, not a reason to dead-letter events.
func classify(err error) error {
	if err != nil && transient(err) {
		return fault.Wrap(fault.Transient, err)
	}
	return err
}
