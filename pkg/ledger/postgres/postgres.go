package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger/internal/sqlledger"
)

// Ledger is an engagement.Ledger on a PostgreSQL database. Its methods —
// engagement.Ledger's, DB, and Engagements, SeenEvents and Load for stint
// migrate — are the shared SQL ledger's (pkg/ledger/internal/sqlledger),
// which documents them.
type Ledger struct{ *shared }

// shared names the embedded ledger so that its field is unexported.
type shared = sqlledger.Ledger

// dialect is how the ledger's queries speak to PostgreSQL: $n
// placeholders; due_at and a lease's until are timestamptz; LIMIT NULL is
// no limit; transactions run at READ COMMITTED, which the optimistic
// writes are written for, whatever the server's default.
var dialect = sqlledger.Dialect{
	Name:            "postgres ledger",
	Numbered:        true,
	Time:            func(t time.Time) any { return t },
	NoLimit:         nil,
	StartsWith:      "starts_with(key, ?)",
	Classify:        classify,
	UniqueViolation: uniqueViolation,
	TxOptions:       &sql.TxOptions{Isolation: sql.LevelReadCommitted},
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
	return &Ledger{sqlledger.New(db, dialect)}, nil
}
