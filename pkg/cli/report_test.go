package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/report"
)

// stint report reads the demo's ledger and sandbox tenant and writes the
// report in each format, readable by its owner only.
func TestReportCommand(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	data := t.TempDir()
	if code, _, errOut := run(t, "demo", "--data", data); code != 0 {
		t.Fatalf("demo exited %d: %s", code, errOut)
	}
	dir := t.TempDir()

	t.Run("json", func(t *testing.T) {
		path := filepath.Join(dir, "r.json")
		code, out, errOut := run(t, "report", "--data", data, "--format", "json", "--out", path)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "report written to "+path) {
			t.Errorf("stdout = %q, want where the report is", out)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600: the report holds personal data", fi.Mode().Perm())
		}
		b, _ := os.ReadFile(path)
		var rep report.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if !rep.EntraRead || rep.Summary.Contractors != 4 || rep.Summary.Ghosts != 1 {
			t.Errorf("entraRead %v, summary %+v; want Entra read, the demo's 4 contractors and its ghost", rep.EntraRead, rep.Summary)
		}
		if rep.SignInsKnown || !strings.Contains(strings.Join(rep.Notes, " "), "AuditLog.Read.All") {
			t.Errorf("sign-ins are not read yet: the report must say so; notes %q", rep.Notes)
		}
	})

	t.Run("an existing file is replaced and made private", func(t *testing.T) {
		path := filepath.Join(dir, "r.html")
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := run(t, "report", "--data", data, "--out", path); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		fi, _ := os.Stat(path)
		b, _ := os.ReadFile(path)
		if fi.Mode().Perm() != 0o600 || !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) {
			t.Errorf("mode %v, starts %q: want 0600 and the HTML report (the default format)", fi.Mode().Perm(), b[:min(len(b), 20)])
		}
	})

	t.Run("csv to stdout", func(t *testing.T) {
		code, out, errOut := run(t, "report", "--data", data, "--format", "csv", "--out", "-")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.HasPrefix(out, "\uFEFFname,email,") || strings.Count(out, "\r\n") != 1+5 {
			t.Errorf("stdout = %q, want the BOM, the header and 5 rows", out)
		}
	})

	t.Run("an unknown format", func(t *testing.T) {
		code, _, errOut := run(t, "report", "--data", data, "--format", "xlsx")
		if code != 1 || !strings.Contains(errOut, `--format "xlsx": want html, csv or json`) {
			t.Errorf("exit %d, stderr %q; want 1 and the formats", code, errOut)
		}
	})
}
