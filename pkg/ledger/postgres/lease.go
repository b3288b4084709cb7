package postgres

import (
	"context"
	"time"
)

// Lease takes the named lease with one statement. Of several holders
// racing for a free lease, one inserts the row; the others wait for its
// transaction, then find the row and its holder, and take nothing.
func (l *Ledger) Lease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	res, err := l.db.ExecContext(ctx, `INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
		WHERE leases.until <= $4 OR leases.holder = excluded.holder`, name, holder, until, now)
	if err != nil {
		return false, wrap(err, "take lease %s", name)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap(err, "take lease %s", name)
}

// Release gives the lease back if holder has it.
func (l *Ledger) Release(ctx context.Context, name, holder string) error {
	_, err := l.db.ExecContext(ctx, "DELETE FROM leases WHERE name = $1 AND holder = $2", name, holder)
	return wrap(err, "release lease %s", name)
}
