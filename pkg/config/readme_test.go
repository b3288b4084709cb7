package config_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/config"
)

var update = flag.Bool("update", false, "rewrite the README's generated sections")

const (
	tableBegin = "<!-- configuration table: generated from pkg/config; go test ./pkg/config -update -->\n"
	tableEnd   = "<!-- end of the configuration table -->"
)

// The README's configuration table is the declaration's: a setting added,
// renamed or redocumented in pkg/config fails this test until the README
// says so too (go test ./pkg/config -update rewrites it).
func TestREADMETable(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start, end := strings.Index(readme, tableBegin), strings.Index(readme, tableEnd)
	if start < 0 || end < start {
		t.Fatalf("README.md has no generated configuration table between %q and %q", strings.TrimSpace(tableBegin), tableEnd)
	}
	got, want := readme[start+len(tableBegin):end], config.Markdown()
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme[:start+len(tableBegin)]+want+readme[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's configuration table differs from pkg/config's declaration; run go test ./pkg/config -update\nwant:\n%s", want)
}
