package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// writeBootstrap puts data at dir/fn/bootstrap with the given mode and time.
func writeBootstrap(tb testing.TB, dir, fn string, data []byte, mode os.FileMode, mtime time.Time) {
	tb.Helper()
	bin := filepath.Join(dir, fn, "bootstrap")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(bin, data, mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(bin, mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chtimes(bin, mtime, mtime); err != nil {
		tb.Fatal(err)
	}
}

func TestPackIgnoresTheFilesTimeAndMode(t *testing.T) {
	data := []byte("\x7fELF not really a binary")
	a, b := t.TempDir(), t.TempDir()
	writeBootstrap(t, a, "webhook", data, 0o700, time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC))
	writeBootstrap(t, b, "webhook", data, 0o644, time.Now())
	for _, dir := range []string{a, b} {
		if _, err := pack(dir, "webhook"); err != nil {
			t.Fatal(err)
		}
	}
	za, zb := readFile(t, filepath.Join(a, "webhook.zip")), readFile(t, filepath.Join(b, "webhook.zip"))
	if !bytes.Equal(za, zb) {
		t.Fatal("two zips of the same bootstrap differ when the file's time and mode differ")
	}

	r, err := zip.NewReader(bytes.NewReader(za), int64(len(za)))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.File) != 1 {
		t.Fatalf("%d entries, want 1", len(r.File))
	}
	f := r.File[0]
	if f.Name != "bootstrap" {
		t.Errorf("entry = %q, want bootstrap", f.Name)
	}
	if f.Mode() != 0o755 {
		t.Errorf("mode = %v, want -rwxr-xr-x (Lambda runs bootstrap)", f.Mode())
	}
	if !f.Modified.Equal(epoch) {
		t.Errorf("modified = %v, want %v", f.Modified, epoch)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("entry holds %q, want %q", got, data)
	}
}

func TestPackNamesAMissingBinary(t *testing.T) {
	_, err := pack(t.TempDir(), "webhook")
	if err == nil {
		t.Fatal("pack without a bootstrap succeeded")
	}
}

// Two runs of `make package` on one tree give byte-identical zips. It packs
// only the webhook (no Graph SDK) to stay quick.
func TestMakePackageIsReproducible(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	var zips [2][]byte
	for i := range zips {
		bin := t.TempDir()
		cmd := exec.Command("make", "-C", root, "package", "FUNCTIONS=webhook", "BIN="+bin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make package: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("webhook.zip")) || !bytes.Contains(out, []byte("sha256:")) {
			t.Errorf("make package printed no size and SHA-256 for webhook.zip:\n%s", out)
		}
		zips[i] = readFile(t, filepath.Join(bin, "webhook.zip"))
	}
	if !bytes.Equal(zips[0], zips[1]) {
		t.Error("two packagings of one tree differ")
	}
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
