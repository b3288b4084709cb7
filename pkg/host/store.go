package host

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger/postgres"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
)

// Store is the ledger stint serve runs on: a SQL database that also holds
// the embedded queue's tables.
type Store interface {
	engagement.Ledger
	DB() *sql.DB
}

// Shared reports whether STINT_STORE names a database that several stint
// serve replicas share (PostgreSQL). Other values keep their meaning for the
// commands that read them (stint policy); serve then keeps its ledger in
// its data directory.
func Shared(store string) bool {
	scheme, _, _ := strings.Cut(store, "://")
	return scheme == "postgres" || scheme == "postgresql"
}

// OpenStore opens the ledger and queue database: the shared one STINT_STORE
// names, or the data directory's SQLite file. PostgreSQL's Entra
// authentication (azure=entra) takes its tokens from the host's identity
// (entra.ResourceCredential: the managed identity on Azure).
func OpenStore(ctx context.Context, cfg config.Config, data string) (Store, error) {
	if store := cfg.Store; Shared(store) {
		var opts []postgres.Option
		if cfg.Tenant.Federation == config.FederationManagedIdentity {
			cred, err := entra.ResourceCredential(cfg.Tenant, nil)
			if err != nil {
				return nil, err
			}
			opts = append(opts, postgres.WithCredential(cred))
		}
		return postgres.Open(ctx, store, opts...)
	}
	return sqlite.Open(ctx, filepath.Join(data, "stint.db"))
}

// OpenExisting is OpenStore for the operator commands, which must not
// create a ledger where none was: without a shared store, the data
// directory must hold one.
func OpenExisting(ctx context.Context, cfg config.Config, data string) (Store, error) {
	if !Shared(cfg.Store) {
		path := filepath.Join(data, "stint.db")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no ledger at %s: run stint serve (or pass --data, or set STINT_STORE to the shared postgres:// ledger)", path)
		}
	}
	return OpenStore(ctx, cfg, data)
}

// tenantMark is the mark that records, in a shared ledger, the tenant its
// records speak of (a data directory's own ledger has the tenant file).
const tenantMark = "tenant"

// markSharedTenant records the tenant in the shared ledger, or refuses one
// that differs from the ledger's.
func (h *Host) markSharedTenant(ctx context.Context, want string) error {
	if h.o.Sandbox {
		return fault.Errorf(fault.Invalid, "--sandbox keeps its tenant in the data directory, and STINT_STORE names a ledger shared by several replicas: run the replicas against the real tenant (AZURE_TENANT_ID), or unset STINT_STORE")
	}
	marks, err := h.Ledger.Marks(ctx, tenantMark)
	if err != nil {
		return err
	}
	switch was := marks[tenantMark]; was {
	case want:
		return nil
	case "":
		return h.Ledger.SetMark(ctx, tenantMark, want)
	default:
		return fault.Errorf(fault.Invalid, "the ledger STINT_STORE names holds tenant %s's records, and AZURE_TENANT_ID names %s: use another database for that tenant", was, want)
	}
}
