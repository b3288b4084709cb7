package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"runtime/debug"
)

// migrations upgrade the schema; migration i brings it to version i+1.
// Append, never edit: a database records which versions it has.
var migrations = []string{
	`CREATE TABLE engagements (
		id         text COLLATE "C" PRIMARY KEY,
		contractor text COLLATE "C" NOT NULL,
		state      text NOT NULL,
		due_at     timestamptz,      -- engagement.Engagement.DueAt; NULL when nothing is due
		version    bigint NOT NULL,
		record     json NOT NULL     -- engagement.Engagement
	);
	CREATE INDEX engagements_by_contractor ON engagements (contractor, id);
	CREATE INDEX engagements_due ON engagements (due_at, id) WHERE due_at IS NOT NULL;
	CREATE INDEX engagements_active ON engagements (id) WHERE state = 'active';

	CREATE TABLE contractors (
		key     text COLLATE "C" PRIMARY KEY,
		version bigint NOT NULL,
		record  json NOT NULL        -- engagement.Contractor
	);

	CREATE TABLE seen (
		key    text COLLATE "C" PRIMARY KEY,
		record json NOT NULL         -- engagement.SeenEvent
	);

	CREATE TABLE audit (
		seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		id         text COLLATE "C" NOT NULL UNIQUE,
		contractor text COLLATE "C" NOT NULL,
		record     json NOT NULL     -- engagement.AuditEntry
	);
	CREATE INDEX audit_by_contractor ON audit (contractor, seq);
	CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		RAISE EXCEPTION 'the audit trail is append-only: % on audit refused', TG_OP;
	END $$;
	CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit
		FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

	CREATE TABLE marks (
		key   text COLLATE "C" PRIMARY KEY,
		value text NOT NULL
	);

	CREATE TABLE leases (
		name   text COLLATE "C" PRIMARY KEY,
		holder text NOT NULL,
		until  timestamptz NOT NULL
	);`,
}

// migrationLock is the key of the transaction-level advisory lock that
// migrations run under ("stint" "ledger" in ASCII), so that replicas
// starting together migrate one after the other.
const migrationLock int64 = 0x7374696e746c6467

// migrate brings the schema to len(ms), in one transaction under the
// advisory lock: a replica that waited for the lock finds the work done.
// A database newer than ms is refused.
func migrate(ctx context.Context, db *sql.DB, ms []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return classify(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return classify(fmt.Errorf("take the migration lock: %w", err))
	}
	// Checked rather than CREATE TABLE IF NOT EXISTS, which needs the
	// CREATE privilege even when the table exists: a migrated database can
	// be used by a role that may only read and write its tables.
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT to_regclass('ledger_schema') IS NOT NULL").Scan(&exists); err != nil {
		return classify(fmt.Errorf("look for the ledger_schema table: %w", err))
	}
	if !exists {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE ledger_schema (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return classify(fmt.Errorf("create the ledger_schema table: %w", err))
		}
	}
	var version int
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM ledger_schema").Scan(&version); err != nil {
		return classify(fmt.Errorf("read the schema version: %w", err))
	}
	if version > len(ms) {
		return newerSchemaError(version, len(ms))
	}
	if version == len(ms) {
		return nil
	}
	for i := version; i < len(ms); i++ {
		if _, err := tx.ExecContext(ctx, ms[i]); err != nil {
			return classify(fmt.Errorf("migration %d: %w", i+1, err))
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO ledger_schema (version) VALUES ($1)", i+1); err != nil {
			return classify(fmt.Errorf("record schema version %d: %w", i+1, err))
		}
	}
	return classify(tx.Commit())
}

// newerSchemaError refuses a database that a newer stint migrated: this
// build does not know what those migrations changed, so it must not write.
func newerSchemaError(version, known int) error {
	return fmt.Errorf("the database's ledger schema is at version %d, newer than this stint (%s) knows (version %d): "+
		"a newer stint has migrated it; upgrade this stint to that release (schema versions only move forward)",
		version, build(), known)
}

// build names this binary's version: its module version, else its VCS
// revision, else "unknown build".
func build() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown build"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			return "revision " + s.Value[:min(12, len(s.Value))]
		}
	}
	return "unknown build"
}
