package entra_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/entra"
)

var update = flag.Bool("update", false, "rewrite the README's generated permission table")

const (
	permsBegin = "<!-- permission table: generated from pkg/entra; go test ./pkg/entra -run TestREADME -update -->\n"
	permsEnd   = "<!-- end of the permission table -->"
)

// The README's permission table is entra.Permissions: a permission added
// or redocumented fails this test until the README says so too.
func TestREADMEPermissions(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start, end := strings.Index(readme, permsBegin), strings.Index(readme, permsEnd)
	if start < 0 || end < start {
		t.Fatalf("README.md has no generated permission table between %q and %q", strings.TrimSpace(permsBegin), permsEnd)
	}
	got, want := readme[start+len(permsBegin):end], entra.PermissionsMarkdown()
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme[:start+len(permsBegin)]+want+readme[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's permission table differs from entra.Permissions; run go test ./pkg/entra -run TestREADME -update\nwant:\n%s", want)
}
