package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/ledger"
	"github.com/stintdev/stint/pkg/ledger/postgres"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/queue/embedded"
)

// Migrated is what stint migrate copied.
type Migrated struct {
	Ledger ledger.Counts   `json:"ledger"`
	Queue  embedded.Counts `json:"queue"`
	// Tenant is the tenant the ledger speaks of, recorded in the target.
	Tenant string `json:"tenant,omitempty"`
}

// portableStore is a ledger stint migrate reads or fills, with the queue
// that lives in its database.
type portableStore interface {
	host.Store
	ledger.Portable
}

func migrateCmd(g *globals) *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "migrate --to postgres://…",
		Short: "Move the ledger, its audit trail and the queued events into a new database (SQLite to PostgreSQL)",
		Long: `Copies everything a ledger holds — engagements, contractors, handled events,
the audit trail (in order), marks — and the embedded queue's messages, dead
letters and remembered ids into an empty database, then checks that the
counts agree. Stop stint serve first; a data directory in use is refused,
and so is a target that is not empty. Then run stint serve with
STINT_STORE set to the target.`,
		Args: cobra.NoArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if to == "" {
				return fmt.Errorf("--to is missing: give the new, empty database, e.g. --to postgres://stint@db.example/stint")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				from = "sqlite://" + filepath.Join(g.data, "stint.db")
			}
			m, err := migrate(cmd.Context(), from, to)
			if err != nil {
				return err
			}
			if g.asJSON {
				return g.printJSON(m)
			}
			fmt.Fprintf(g.out, "stint: migrated %d contractors, %d engagements, %d handled events, %d audit entries, %d marks, %d queued events and %d dead letters; the counts agree\n",
				m.Ledger.Contractors, m.Ledger.Engagements, m.Ledger.Seen, m.Ledger.Audit, m.Ledger.Marks, m.Queue.Queued, m.Queue.DeadLetters)
			fmt.Fprintln(g.out, "stint: now run stint serve with STINT_STORE set to the new database")
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the ledger to copy: sqlite:///path/to/stint.db or postgres://… (default: the data directory's)")
	cmd.Flags().StringVar(&to, "to", "", "the new, empty database: postgres://… (or sqlite:///path)")
	return cmd
}

// migrate copies the ledger and queue at from into to.
func migrate(ctx context.Context, from, to string) (Migrated, error) {
	var m Migrated
	if from == to {
		return m, errors.New("--from and --to name the same database")
	}
	// A data directory's ledger: its serve must be stopped, and the tenant
	// it speaks of goes along.
	if path, ok := strings.CutPrefix(from, "sqlite://"); ok {
		if _, err := os.Stat(path); err != nil {
			return m, fmt.Errorf("--from: no ledger at %s", path)
		}
		release, err := host.Lock(filepath.Dir(path))
		if err != nil {
			return m, err
		}
		defer release()
		if m.Tenant = host.Chosen(filepath.Dir(path)); m.Tenant == "sandbox" {
			return m, fmt.Errorf("%s is the sandbox tenant's ledger: its accounts are not a real tenant's, so it has nothing to move", path)
		}
	}
	src, err := openPortable(ctx, "--from", from)
	if err != nil {
		return m, err
	}
	defer src.Close()
	dst, err := openPortable(ctx, "--to", to)
	if err != nil {
		return m, err
	}
	defer dst.Close()
	srcQ, err := embedded.Open(ctx, src.DB(), embedded.Options{})
	if err != nil {
		return m, err
	}
	dstQ, err := embedded.Open(ctx, dst.DB(), embedded.Options{})
	if err != nil {
		return m, err
	}
	if m.Ledger, err = ledger.Copy(ctx, src, dst); err != nil {
		return m, err
	}
	if m.Queue, err = embedded.Copy(ctx, srcQ, dstQ); err != nil {
		return m, err
	}
	if m.Tenant != "" {
		err = dst.SetMark(ctx, "tenant", m.Tenant)
	}
	return m, err
}

// openPortable opens a SQL ledger by URL.
func openPortable(ctx context.Context, flag, url string) (portableStore, error) {
	scheme, rest, _ := strings.Cut(url, "://")
	switch scheme {
	case "sqlite":
		return sqlite.Open(ctx, rest)
	case "postgres", "postgresql":
		return postgres.Open(ctx, url)
	}
	return nil, fmt.Errorf("%s: want sqlite:///path/to/stint.db or postgres://…, not a %q URL", flag, scheme)
}
