// Package ledger opens the engagement.Ledger backend that STINT_STORE names:
//
//	sqlite:///var/lib/stint/stint.db   embedded, one file (sqlite://relative/path also works)
//	dynamodb://stint-ledger            a DynamoDB table, via the AWS SDK's standard configuration
//	postgres://user@host/db?sslmode=verify-full
//	                                   a PostgreSQL database, shared by several replicas
//	                                   (postgresql:// too; azure=entra for Entra ID
//	                                   authentication: see package postgres)
package ledger

import (
	"context"
	"strconv"
	"strings"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger/dynamo"
	"github.com/stintdev/stint/pkg/ledger/postgres"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
)

// Open opens the ledger at url.
func Open(ctx context.Context, url string) (engagement.Ledger, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	switch {
	case !ok:
		return nil, fault.Errorf(fault.Invalid, "STINT_STORE %s is not a URL: want sqlite:///path/to/stint.db, dynamodb://table or postgres://user@host/database", quote(url))
	case scheme == "sqlite":
		return sqlite.Open(ctx, rest)
	case scheme == "dynamodb":
		if rest == "" || strings.ContainsAny(rest, "/?#") {
			return nil, fault.Errorf(fault.Invalid, "STINT_STORE %q: want dynamodb://<table name>", url)
		}
		return dynamo.Open(ctx, rest)
	case scheme == "postgres" || scheme == "postgresql":
		l, err := postgres.Open(ctx, url) // shows the URL without its password
		if err != nil {
			return nil, err
		}
		return l, nil
	}
	return nil, fault.Errorf(fault.Invalid, "STINT_STORE %s: unknown scheme %q (want sqlite, dynamodb, postgres or postgresql)", quote(url), scheme)
}

// quote quotes a STINT_STORE that is not understood, unless it may hold a
// password (a misspelt postgres URL, a key=value connection string).
func quote(url string) string {
	if strings.Contains(url, "@") || strings.Contains(strings.ToLower(url), "password") {
		return "(not shown: it may hold a password)"
	}
	return strconv.Quote(url)
}
