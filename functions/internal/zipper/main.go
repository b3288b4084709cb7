// Command zipper packs built Lambda binaries for `make package`: for each
// function named, bin/<function>/bootstrap becomes bin/<function>.zip and
// its size and SHA-256 are printed. The zip is reproducible: one entry,
// "bootstrap", with a fixed mode (0755, which Lambda needs to run it) and a
// fixed modification time, so that two packagings of one commit are
// byte-identical whatever the file's own time and mode. It is a Go command
// rather than a zip(1) recipe because a fresh machine with only Go has no
// zip.
//
//	go run ./functions/internal/zipper -dir bin webhook worker sweep
package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// epoch is every entry's modification time: zip's (DOS) earliest.
var epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	dir := flag.String("dir", "bin", "the directory holding <function>/bootstrap, where <function>.zip is written")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "zipper: name the functions to pack, e.g. zipper -dir bin webhook worker sweep")
		os.Exit(2)
	}
	for _, fn := range flag.Args() {
		line, err := pack(*dir, fn)
		if err != nil {
			fmt.Fprintln(os.Stderr, "zipper: "+err.Error())
			os.Exit(1)
		}
		fmt.Println(line)
	}
}

// pack writes dir/fn.zip from dir/fn/bootstrap and returns the line to
// print: the zip's path, size and SHA-256.
func pack(dir, fn string) (string, error) {
	bin := filepath.Join(dir, fn, "bootstrap")
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("read %s: %w (build it first: make package)", bin, err)
	}
	var buf bytes.Buffer
	if err := write(&buf, data); err != nil {
		return "", fmt.Errorf("zip %s: %w", bin, err)
	}
	out := filepath.Join(dir, fn+".zip")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", out, err)
	}
	return fmt.Sprintf("%s %.1f MB sha256:%x", out, float64(buf.Len())/(1<<20), sha256.Sum256(buf.Bytes())), nil
}

// write zips data as the one entry "bootstrap", mode 0755, at epoch.
func write(w io.Writer, data []byte) error {
	zw := zip.NewWriter(w)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: epoch}
	h.SetMode(0o755)
	f, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return zw.Close()
}
