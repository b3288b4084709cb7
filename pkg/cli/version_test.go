package cli

import (
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionOfBuildInfo(t *testing.T) {
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"tagged clean build",
			debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}},
			"stint v1.2.3 commit abc123 go1.26.0"},
		{"modified checkout",
			debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-20260101120000-abc123456789+dirty"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123456789"}, {Key: "vcs.modified", Value: "true"}}},
			"stint v0.0.0-20260101120000-abc123456789+dirty commit abc123456789 (modified) go1.26.0"},
		{"no version control", debug.BuildInfo{GoVersion: "go1.26.0"}, "stint (devel) commit unknown go1.26.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionOf(&tt.bi).String(); got != tt.want {
				t.Errorf("version = %q, want %q", got, tt.want)
			}
		})
	}
}

// stint version and stint --version print the same one line, or the same
// one-line JSON with --json, whatever the configuration's state.
func TestVersionCommandAndFlag(t *testing.T) {
	want := ReadVersion()
	bad := func(name string) (string, bool) {
		if name == "STINT_GHOST_ACTION" {
			return "explode", true // a configuration problem must not hide the version
		}
		return "", false
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errOut strings.Builder
		if code := Execute(args, &out, &errOut, bad); code != 0 {
			t.Fatalf("stint %v = %d, stderr %q", args, code, errOut.String())
		}
		if got := out.String(); got != want.String()+"\n" {
			t.Errorf("stint %v printed %q, want %q", args, got, want.String()+"\n")
		}

		out.Reset()
		if code := Execute(append(args, "--json"), &out, &errOut, bad); code != 0 {
			t.Fatalf("stint %v --json = %d, stderr %q", args, code, errOut.String())
		}
		if n := strings.Count(out.String(), "\n"); n != 1 {
			t.Errorf("stint %v --json printed %d lines, want 1: %q", args, n, out.String())
		}
		var got Version
		if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
			t.Fatalf("stint %v --json: %v: %q", args, err, out.String())
		}
		if got != want {
			t.Errorf("stint %v --json = %+v, want %+v", args, got, want)
		}
	}
}

// make's -X values win over the build info; a -dirty version means a
// modified tree.
func TestStampedVersion(t *testing.T) {
	base := Version{Version: "(devel)", Go: "go1.26.0"}
	if got, want := stamped(base, "", ""), base; got != want {
		t.Errorf("unstamped = %+v, want %+v", got, want)
	}
	got := stamped(base, "v1.0.0-3-gabc1234-dirty", "abc1234def")
	if want := (Version{Version: "v1.0.0-3-gabc1234-dirty", Commit: "abc1234def", Modified: true, Go: "go1.26.0"}); got != want {
		t.Errorf("stamped = %+v, want %+v", got, want)
	}
}
