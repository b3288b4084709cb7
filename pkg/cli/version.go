package cli

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Set by `make build` with -ldflags -X (git describe --tags --always
// --dirty, git rev-parse HEAD). A plain go build or go install leaves them
// empty and the build's own record is used: the module version, and the
// vcs.* settings go stamps in a git clone (not in a git worktree, nor with
// GOFLAGS=-buildvcs=false).
var (
	version string
	commit  string
)

// Version is what stint version prints: the version and commit make
// stamped, else the build's own record (runtime/debug.ReadBuildInfo).
type Version struct {
	// Version is the main module's: a tag or pseudo-version such as
	// v0.0.0-20260101120000-abcdef123456+dirty, or (devel) when built
	// outside version control.
	Version string `json:"version"`
	// Commit is vcs.revision, "" when unknown.
	Commit string `json:"commit"`
	// Modified is vcs.modified: built from a tree with uncommitted changes.
	Modified bool   `json:"modified"`
	Go       string `json:"go"`
}

// ReadVersion reads the running binary's version.
func ReadVersion() Version {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = &debug.BuildInfo{}
	}
	return stamped(versionOf(bi), version, commit)
}

// stamped is v with make's -X values, when set.
func stamped(v Version, version, commit string) Version {
	if commit != "" {
		v.Commit, v.Modified = commit, strings.HasSuffix(version, "-dirty")
	}
	if version != "" {
		v.Version = version
	}
	return v
}

// versionOf picks the version out of build information.
func versionOf(bi *debug.BuildInfo) Version {
	v := Version{Version: bi.Main.Version, Go: bi.GoVersion}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one line stint version prints.
func (v Version) String() string {
	commit := v.Commit
	switch {
	case commit == "":
		commit = "unknown"
	case v.Modified:
		commit += " (modified)"
	}
	return fmt.Sprintf("stint %s commit %s %s", v.Version, commit, v.Go)
}

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "The build's version and commit",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if g.asJSON { // one line, as --version --json
				return json.NewEncoder(g.out).Encode(ReadVersion())
			}
			_, err := fmt.Fprintln(g.out, ReadVersion())
			return err
		},
	}
}

// versionTemplate is cobra's --version output: the same line as stint
// version, or its JSON when --json is given too. Cobra prints it before any
// command runs, so the template reads the flag itself.
func versionTemplate() string {
	v := ReadVersion()
	js, _ := json.Marshal(v) // a struct of strings and a bool
	esc := func(s string) string { return strings.ReplaceAll(s, "{{", `{{"{{"}}`) }
	return `{{if eq (.Flags.Lookup "json").Value.String "true"}}` + esc(string(js)) + `{{else}}` + esc(v.String()) + `{{end}}` + "\n"
}
