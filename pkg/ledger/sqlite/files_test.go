//go:build unix

package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stintdev/stint/pkg/ledger/sqlite"
)

// The ledger holds contractor and sponsor addresses: in a 0755 directory,
// under the usual umask 022, the file, its WAL and its shared-memory index
// are still readable by their owner only.
func TestFilesAreOwnerOnlyUnderUmask022(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0o022))
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stint.db")
	l, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	write(t, l, "ENG-1")
	assertOwnerOnly(t, path)
}

// Files left readable by others (by an older stint, or copied in with cp)
// lose the group and other bits when the ledger is opened.
func TestOpenTakesOthersOffExistingFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stint.db")
	first, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	write(t, first, "ENG-1") // the WAL and its index exist while a connection is open
	for _, p := range ledgerFiles(path) {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	second, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	assertOwnerOnly(t, path)
	write(t, second, "ENG-2")
}

func ledgerFiles(path string) []string { return []string{path, path + "-wal", path + "-shm"} }

func assertOwnerOnly(tb testing.TB, path string) {
	tb.Helper()
	for _, p := range ledgerFiles(path) {
		info, err := os.Stat(p)
		if err != nil {
			tb.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		if got, want := info.Mode().Perm(), os.FileMode(0o600); got != want {
			tb.Errorf("%s mode = %04o, want %04o", filepath.Base(p), got, want)
		}
	}
}
