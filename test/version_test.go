package test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/cli"
)

// make build stamps the commit into stint (-ldflags -X), and stint version
// prints what was stamped: the variables the Makefile names exist.
func TestVersionPrintsTheStampedCommit(t *testing.T) {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	head := strings.TrimSpace(string(out))
	plan, err := exec.Command("make", "-n", "-C", "..", "build").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n build: %v\n%s", err, plan)
	}
	stamp := "-X github.com/stintdev/stint/pkg/cli.commit=" + head
	if !strings.Contains(string(plan), stamp) {
		t.Fatalf("make build does not stamp %q:\n%s", stamp, plan)
	}
	bin := filepath.Join(t.TempDir(), "stint")
	ldflags := "-X github.com/stintdev/stint/pkg/cli.version=v9.8.7-dirty " + stamp
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, "../functions/stint").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("stint version --json: %v", err)
	}
	var got cli.Version
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("stint version --json: %v: %q", err, out)
	}
	if got.Commit != head || got.Version != "v9.8.7-dirty" || !got.Modified {
		t.Errorf("stint version --json = %+v, want version v9.8.7-dirty, commit %s, modified", got, head)
	}
}
