package ledger_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
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

func TestOpenRefusesBadURLs(t *testing.T) {
	tests := []struct {
		url  string
		want string
	}{
		{"/var/lib/stint.db", "is not a URL"},
		{"postgres://db/stint", `unknown scheme "postgres"`},
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
