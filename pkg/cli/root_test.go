package cli_test

import (
	"strings"
	"testing"
)

// A missing or unknown subcommand is an error, with cobra's suggestion
// when one is near.
func TestUnknownOrMissingSubcommandFails(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown dlq subcommand", []string{"dlq", "bogus"}, []string{`unknown command "bogus" for "stint dlq"`}},
		{"misspelt dlq subcommand", []string{"dlq", "lst"}, []string{`unknown command "lst" for "stint dlq"`, "Did you mean this?\n\tlist"}},
		{"missing dlq subcommand", []string{"dlq"}, []string{`missing command for "stint dlq"`, "list", "replay", "drop"}},
		{"unknown command", []string{"acces"}, []string{`unknown command "acces" for "stint"`, "Did you mean this?\n\taccess"}},
		{"missing command", []string{}, []string{`missing command for "stint"`, "serve"}},
		{"missing sweep mode", []string{"sweep"}, []string{`missing mode for "stint sweep": want tick or reconcile`}},
		{"unknown sweep mode", []string{"sweep", "purge"}, []string{`invalid argument "purge" for "stint sweep"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code == 0 {
				t.Errorf("stint %s exited 0:\n%s", strings.Join(tt.args, " "), out)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr = %q, want %q", errOut, w)
				}
			}
		})
	}
	if code, out, _ := run(t, "dlq", "--help"); code != 0 || !strings.Contains(out, "replay") {
		t.Errorf("dlq --help = %d %s, want the help, exit 0", code, out)
	}
}

// An error that already starts with "stint: " is printed with the prefix
// once.
func TestErrorPrefixIsPrintedOnce(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	code, _, errOut := run(t, "sweep", "tick", "--data", "/dev/null/data")
	if code == 0 || !strings.HasPrefix(errOut, "stint: ") || strings.Contains(errOut, "stint: stint:") {
		t.Errorf("stderr = %q, want one stint: prefix", errOut)
	}
}
