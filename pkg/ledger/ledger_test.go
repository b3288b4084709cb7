package ledger_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger"
	"github.com/stintdev/stint/pkg/ledger/postgres"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	pgtest "github.com/stintdev/stint/test/postgres"
)

func TestOpenSQLiteByURL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "stint.db")
	l, err := ledger.Open(context.Background(), "sqlite://"+path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer l.Close()
	if _, ok := l.(*sqlite.Ledger); !ok {
		t.Errorf("Open(sqlite://…) = %T, want *sqlite.Ledger", l)
	}
}

// postgres:// and postgresql:// both open the PostgreSQL ledger.
func TestOpenPostgresByURL(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{})
	for _, scheme := range []string{"postgres", "postgresql"} {
		t.Run(scheme, func(t *testing.T) {
			url := strings.Replace(srv.Database(t), "postgres://", scheme+"://", 1)
			l, err := ledger.Open(context.Background(), url)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer l.Close()
			if _, ok := l.(*postgres.Ledger); !ok {
				t.Errorf("Open(%s://…) = %T, want *postgres.Ledger", scheme, l)
			}
		})
	}
}

// A URL that is not understood is quoted in the error, unless it may hold
// a password.
func TestOpenDoesNotQuoteURLsWithPasswords(t *testing.T) {
	for _, url := range []string{"postgress://stint:hunter2@db/stint", "host=db user=stint password=hunter2"} {
		_, err := ledger.Open(context.Background(), url)
		if !fault.Is(err, fault.Invalid) || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "not shown: it may hold a password") {
			t.Errorf("Open(%q) error = %v, want invalid, without the password", url, err)
		}
	}
}

func TestOpenRefusesBadURLs(t *testing.T) {
	tests := []struct {
		url  string
		want string
	}{
		{"/var/lib/stint.db", "is not a URL"},
		{"mysql://db/stint", `unknown scheme "mysql"`},
		{"postgres://stint@db.example.com/stint?azure=kerberos", `azure="kerberos" is not known`},
		{"dynamodb://", "want dynamodb://<table name>"},
		{"dynamodb://table/extra", "want dynamodb://<table name>"},
		{"sqlite://", "empty path"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := ledger.Open(context.Background(), tt.url)
			if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%q) error = %v, want invalid, saying %q", tt.url, err, tt.want)
			}
		})
	}
}
