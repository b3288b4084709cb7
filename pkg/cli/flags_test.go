package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every numeric, duration and address flag is checked before anything
// starts: a bad value is one clear error naming the flag, and nothing is
// created in the data directory.
func TestFlagsAreValidatedBeforeAnythingStarts(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	t.Setenv("STINT_WEBHOOK_SECRET", webhookSecret)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no workers", []string{"serve", "--workers", "0", "--addr", "127.0.0.1:0"}, "--workers 0: want 1 to 64"},
		{"negative workers", []string{"serve", "--workers", "-1", "--addr", "127.0.0.1:0"}, "--workers -1: want 1 to 64"},
		{"too many workers", []string{"serve", "--workers", "65", "--addr", "127.0.0.1:0"}, "--workers 65: want 1 to 64"},
		{"negative lease", []string{"serve", "--lease=-1s", "--addr", "127.0.0.1:0"}, "--lease -1s: want at least 5s"},
		{"short lease", []string{"serve", "--lease", "4s", "--addr", "127.0.0.1:0"}, "--lease 4s: want at least 5s: a lease shorter than"},
		{"long lease", []string{"serve", "--lease", "2h", "--addr", "127.0.0.1:0"}, "--lease 2h0m0s: want at most 1h0m0s"},
		{"tick too short", []string{"serve", "--tick", "500ms", "--addr", "127.0.0.1:0"}, "--tick 500ms: want 1s to 1h0m0s"},
		{"tick too long", []string{"serve", "--tick", "2h", "--addr", "127.0.0.1:0"}, "--tick 2h0m0s: want 1s to 1h0m0s"},
		{"address without a port", []string{"serve", "--addr", "localhost"}, "--addr \"localhost\": want host:port"},
		{"address with a bad port", []string{"serve", "--addr", "127.0.0.1:99999"}, "--addr \"127.0.0.1:99999\": the port"},
		{"negative limit", []string{"audit", "--limit", "-1"}, "--limit -1: want 0 (every entry) or more"},
		{"url not http", []string{"send", "--url", "ftp://host/events", "x.json"}, "--url \"ftp://host/events\": want an http or https URL"},
		{"url without a host", []string{"send", "--url", "events", "x.json"}, "--url \"events\": want an http or https URL"},
		{"seq zero", []string{"dlq", "replay", "0"}, "SEQ \"0\": want the number stint dlq list shows"},
		{"seq not a number", []string{"dlq", "drop", "x"}, "SEQ \"x\": want the number stint dlq list shows"},
		{"empty data", []string{"audit", "--data", ""}, "--data is empty"},
	}
	// The serve cases listen on a port of their own, should one start.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := append([]string{"--data", data}, tt.args...)
			code, out, errOut := run(t, args...)
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("stint %s = %d %q%s, want 1 and %q", strings.Join(tt.args, " "), code, errOut, out, tt.want)
			}
			if _, err := os.Stat(data); err == nil {
				t.Errorf("the data directory was created: a bad flag must stop the command before it starts")
			}
		})
	}
}
