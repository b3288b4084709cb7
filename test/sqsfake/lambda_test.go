package sqsfake

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/test/lambdart"
)

// TestMappingDrivesABuiltLambda runs testdata/worker, a real aws-lambda-go
// binary, behind the mapping through lambdart.
func TestMappingDrivesABuiltLambda(t *testing.T) {
	binary := filepath.Join(t.TempDir(), "worker", "bootstrap")
	build := exec.Command("go", "build", "-o", binary, "./testdata/worker")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/worker: %v\n%s", err, out)
	}
	fn, err := lambdart.Start(binary, nil)
	if err != nil {
		t.Fatalf("lambdart.Start: %v", err)
	}
	defer fn.Stop()

	s := newServer(t)
	mustCreate(t, s, "work", QueueOptions{VisibilityTimeout: 200 * time.Millisecond})
	invoke := func(ctx context.Context, payload []byte) ([]byte, error) {
		return fn.Invoke(ctx, payload, 5*time.Second)
	}
	m := runMapping(t, s, "work", invoke, sendBodies(t, "ok", "fail"))

	logs := fn.Logs()
	for _, line := range []string{
		"worker: ok receive=1 source=arn:aws:sqs:us-east-1:000000000000:work",
		"worker: fail receive=1",
		"worker: fail receive=2",
	} {
		if !strings.Contains(logs, line) {
			t.Errorf("logs lack %q:\n%s", line, logs)
		}
	}
	if strings.Contains(logs, "worker: ok receive=2") {
		t.Errorf("ok was delivered again although the function reported only fail:\n%s", logs)
	}
	if got := m.Invocations(); got != 2 {
		t.Errorf("Invocations() = %d, want 2", got)
	}
}
