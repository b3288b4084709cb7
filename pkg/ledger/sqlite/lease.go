package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// Lease takes the named lease in one transaction.
func (l *Ledger) Lease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	taken := false
	err := l.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
			WHERE leases.until <= ? OR leases.holder = excluded.holder`, name, holder, until.UnixNano(), now.UnixNano())
		if err != nil {
			return wrap(err, "take lease %s", name)
		}
		n, err := res.RowsAffected()
		taken = n == 1
		return wrap(err, "take lease %s", name)
	})
	return taken, err
}

// Release gives the lease back if holder has it.
func (l *Ledger) Release(ctx context.Context, name, holder string) error {
	_, err := l.db.ExecContext(ctx, "DELETE FROM leases WHERE name = ? AND holder = ?", name, holder)
	return wrap(err, "release lease %s", name)
}
