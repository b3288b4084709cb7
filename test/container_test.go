package test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile line: its keyword and the rest.
type instruction struct{ op, args string }

// readDockerfile reads instructions, joining continued lines and dropping
// comments: enough of the format for the checks below, not a parser.
func readDockerfile(tb testing.TB, path string) []instruction {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var out []instruction
	line := ""
	for _, l := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(l)
		if line == "" && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if s, ok := strings.CutSuffix(t, `\`); ok {
			line += s + " "
			continue
		}
		line += t
		op, args, _ := strings.Cut(line, " ")
		out = append(out, instruction{strings.ToUpper(op), strings.TrimSpace(args)})
		line = ""
	}
	return out
}

// The container image for the Azure host keeps its shape though nothing
// here builds it: a build stage and a runtime stage, stint built without
// cgo, a non-root user, stint as the entrypoint serving on :8080, and the
// data directory as a volume.
func TestContainerImageDefinition(t *testing.T) {
	ins := readDockerfile(t, "../infra/container/Dockerfile")
	var stages []string
	var final []instruction // the last stage's instructions
	for _, in := range ins {
		if in.op == "FROM" {
			f := strings.Fields(in.args)
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				stages = append(stages, f[2])
			}
			final = nil
		}
		final = append(final, in)
		if in.op == "COPY" && strings.Contains(in.args, "--from=") {
			from := strings.Fields(strings.SplitN(in.args, "--from=", 2)[1])[0]
			if !slices.Contains(stages, from) {
				t.Errorf("COPY --from=%s: no stage %q (stages %v)", from, from, stages)
			}
		}
	}
	if len(stages) == 0 {
		t.Fatal("no named build stage: want a multi-stage build")
	}
	get := func(op string) []string {
		var args []string
		for _, in := range final {
			if in.op == op {
				args = append(args, in.args)
			}
		}
		return args
	}
	if b := strings.Fields(final[0].args)[0]; !strings.Contains(b, "distroless") && !strings.Contains(b, "slim") {
		t.Errorf("runtime base = %s, want distroless or debian-slim", b)
	}
	users := get("USER")
	if len(users) == 0 {
		t.Error("the runtime stage sets no USER: it would run as root")
	}
	for _, u := range users {
		if name, _, _ := strings.Cut(u, ":"); name == "root" || name == "0" {
			t.Errorf("USER %s: want a non-root user", u)
		}
	}
	var entry, cmd []string
	for _, e := range get("ENTRYPOINT") {
		if err := json.Unmarshal([]byte(e), &entry); err != nil {
			t.Errorf("ENTRYPOINT %s: want the exec form, JSON: %v", e, err)
		}
	}
	for _, c := range get("CMD") {
		if err := json.Unmarshal([]byte(c), &cmd); err != nil {
			t.Errorf("CMD %s: want the exec form, JSON: %v", c, err)
		}
	}
	if !slices.Equal(entry, []string{"stint"}) {
		t.Errorf("ENTRYPOINT = %q, want [stint]", entry)
	}
	if !slices.Equal(cmd, []string{"serve", "--addr", ":8080"}) {
		t.Errorf("CMD = %q, want [serve --addr :8080]", cmd)
	}
	if len(get("VOLUME")) == 0 {
		t.Error("no VOLUME for the data directory")
	}
	built := false
	for _, in := range ins {
		if in.op == "RUN" && strings.Contains(in.args, "CGO_ENABLED=0") && strings.Contains(in.args, "./functions/stint") {
			built = true
		}
	}
	if !built {
		t.Error("no RUN builds ./functions/stint with CGO_ENABLED=0")
	}
	if _, err := os.Stat("../functions/stint/main.go"); err != nil {
		t.Errorf("the Dockerfile builds ./functions/stint: %v", err)
	}
}
