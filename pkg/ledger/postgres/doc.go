// Package postgres is the ledger for several machines: one PostgreSQL
// database, shared by every stint replica and by the embedded queue
// (Ledger.DB), reached through pgx's database/sql driver.
//
// # URL
//
// Open takes a postgres:// or postgresql:// URL with pgx's parameters
// (sslmode, connect_timeout, search_path, ...):
//
//	postgres://stint:PASSWORD@db.internal:5432/stint?sslmode=verify-full
//	postgres://stint-app@myserver.postgres.database.azure.com/stint?azure=entra
//
// azure=entra asks for Microsoft Entra ID authentication (Azure Database
// for PostgreSQL, password-less): the password of each new connection is an
// access token for EntraScope from an azcore.TokenCredential
// (azidentity's DefaultAzureCredential, or WithCredential's), asked for
// when the connection opens, so a token is never used past its expiry
// (the credential caches tokens and renews them before they expire;
// connections already open stay open). The user is the name of the Entra
// principal's role on the server (a managed identity's name, say). The
// parameter is stint's: it is removed before the URL reaches pgx, which
// would send it to the server as a run-time setting. A URL with azure=entra
// that also holds a password (user:password@ or password=) is refused, as
// is one whose sslmode could send the token unencrypted to another
// machine (disable, allow, prefer); sslmode defaults to verify-full.
//
// No error shows the URL's password or a token: URLs are shown redacted.
//
// # Schema
//
//	engagements  id, contractor, state, due_at, version, record
//	             indexes: (contractor, id); (due_at, id) where due_at is set,
//	             for the tick's Due; (id) where state is active, for Active
//	contractors  key, version, record
//	seen         key (the event's source and id), record
//	audit        seq (identity), id (unique), contractor, record; append-only
//	marks        key, value
//	leases       name, holder, until
//	ledger_schema  version, applied_at: one row per migration applied
//
// Records are stored whole as JSON (the json type keeps the text as
// written; jsonb would refuse a NUL character in a name) beside the columns
// the queries need. Keys use the "C" collation, so ids sort byte by byte
// whatever the database's locale, as in the other backends. due_at is
// engagement.Engagement.DueAt (PostgreSQL keeps microseconds; the record
// keeps the exact time).
//
// A trigger refuses every UPDATE, DELETE and TRUNCATE of the audit table,
// whoever issues it: entries are only ever inserted. (The table's owner
// can drop the trigger and a superuser can bypass it: a guard against
// mistakes and lesser roles, not against the database's administrators.)
//
// # Migrations
//
// Open migrates the schema forward. Migrations are numbered; those a
// database lacks run in order, in one transaction with the version rows
// that record them, so a failed migration leaves the database as it was.
// The transaction first takes a transaction-level advisory lock (key
// migrationLock), so replicas starting together migrate one after another
// and the later ones find the work done. Migrations are only ever appended:
// there is no down-migration. A database at a version newer than this
// build knows (migrated by a newer stint) is refused with an error naming
// both versions: upgrade stint. An up-to-date database needs only the
// privilege to use its tables, not to create them.
//
// # Concurrency
//
// Transactions run at READ COMMITTED, asked for at BEGIN whatever the
// server's default. Writes are
// optimistic, on the version column: an update is "... WHERE version = the
// one read", a create is "INSERT ... ON CONFLICT DO NOTHING", and no row
// written is a fault.Conflict. A writer whose row another open transaction
// is changing waits for it, then PostgreSQL re-checks the condition on the
// committed row, so of concurrent writers exactly one wins. Commit writes
// the contractor first, so the settles of one contractor queue on its row.
// Leases are one INSERT ... ON CONFLICT DO UPDATE whose condition is the
// lease being free, expired or the holder's.
//
// Failures that may pass (a lost connection, a server restarting, a
// deadlock or serialization failure) are fault.Transient, by SQLSTATE; the
// rest are left unclassified. A repeated audit entry id (unique_violation)
// is a fault.Conflict.
//
// This package connects, authenticates and migrates; the ledger's queries
// are pkg/ledger/internal/sqlledger's, shared with the SQLite ledger, told
// by this package's dialect how PostgreSQL numbers parameters and stores
// times.
package postgres
