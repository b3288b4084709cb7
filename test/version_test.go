package test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/cli"
)

// A stint built from this checkout names its commit: go build stamps it,
// and stint version reads it back.
func TestVersionNamesTheCommit(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	out, err := exec.Command(build(t, "stint"), "version", "--json").Output()
	if err != nil {
		t.Fatalf("stint version --json: %v", err)
	}
	var v cli.Version
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("stint version --json: %v: %q", err, out)
	}
	if want := strings.TrimSpace(string(head)); v.Commit != want {
		t.Errorf("commit = %q, want HEAD %q", v.Commit, want)
	}
	if v.Version == "" || v.Go == "" {
		t.Errorf("version = %+v, want a version and a Go version", v)
	}
}
