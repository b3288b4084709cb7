package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// makePrivate keeps the ledger readable by its owner only: it holds
// contractor and sponsor addresses, and a 0755 data directory with the
// usual umask 022 would otherwise leave the files 0644.
//
// A missing database file is created 0600 before SQLite opens it; the
// permission is given to open(2) directly, so no umask can widen it.
// SQLite creates the -wal and -shm files with the database file's
// permission bits (on Unix), so they follow. Files that already exist with
// group or other bits — from an older stint, or copied in — lose those
// bits: this is done silently, on every Open.
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		f.Close()
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("sqlite ledger: create %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := tighten(p); err != nil {
			return err
		}
	}
	return nil
}

// tighten removes the group and other permission bits from the file at p,
// if it exists, and leaves the owner's bits as they are.
func tighten(p string) error {
	info, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // -wal and -shm exist only while the file is open
	}
	if err != nil {
		return fmt.Errorf("sqlite ledger: check the permissions of %s: %w", p, err)
	}
	perm := info.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	err = os.Chmod(p, perm&^0o077)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sqlite ledger: %s is readable by other users (mode %04o) and could not be made private: %w; run chmod 600 on it as its owner", p, perm, err)
	}
	return nil
}
