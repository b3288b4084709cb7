package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stintdev/stint/pkg/ledger/sqlite"
)

// A path is a file name, not a URI: characters that mean something in a
// SQLite URI (a fragment, a query, a %-escape) name the file like any
// others, so the ledger is the file the path names and no other.
func TestPathWithURICharactersNamesTheFile(t *testing.T) {
	tests := []struct{ name, dir string }{
		{"hash", "data#1"},
		{"question mark", "data?mode=ro"},
		{"percent", "data%41"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			path := filepath.Join(parent, tt.dir, "stint.db")
			l, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			write(t, l, "ENG-1")
			l.Close()
			l, err = sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if _, err := l.Engagement(context.Background(), "ENG-1"); err != nil {
				t.Errorf("after reopening %s: %v", path, err)
			}
			var names []string
			entries, _ := os.ReadDir(parent)
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if len(names) != 1 || names[0] != tt.dir {
				t.Errorf("files beside %s: %q, want only %q", tt.dir, names, tt.dir)
			}
		})
	}
}
