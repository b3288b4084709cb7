// Package ledger opens the engagement.Ledger backend that STINT_STORE names:
//
//	sqlite:///var/lib/stint/stint.db   embedded, one file (sqlite://relative/path also works)
//	dynamodb://stint-ledger            a DynamoDB table, via the AWS SDK's standard configuration
package ledger

import (
	"context"
	"strings"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger/dynamo"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
)

// Open opens the ledger at url.
func Open(ctx context.Context, url string) (engagement.Ledger, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	switch {
	case !ok:
		return nil, fault.Errorf(fault.Invalid, "STINT_STORE %q is not a URL: want sqlite:///path/to/stint.db or dynamodb://table", url)
	case scheme == "sqlite":
		return sqlite.Open(ctx, rest)
	case scheme == "dynamodb":
		if rest == "" || strings.ContainsAny(rest, "/?#") {
			return nil, fault.Errorf(fault.Invalid, "STINT_STORE %q: want dynamodb://<table name>", url)
		}
		return dynamo.Open(ctx, rest)
	}
	return nil, fault.Errorf(fault.Invalid, "STINT_STORE %q: unknown scheme %q (want sqlite or dynamodb)", url, scheme)
}
