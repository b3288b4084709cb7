package lambdart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fnBinary is testdata/fn built once by TestMain.
var fnBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambdart-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fnBinary = filepath.Join(dir, "fn", "bootstrap")
	build := exec.Command("go", "build", "-o", fnBinary, "./testdata/fn")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building testdata/fn: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fnResponse mirrors testdata/fn's response.
type fnResponse struct {
	Action      string            `json:"action"`
	Value       json.RawMessage   `json:"value"`
	PID         int               `json:"pid"`
	DeadlineMs  int64             `json:"deadlineMs"`
	RequestID   string            `json:"requestId"`
	FunctionARN string            `json:"functionArn"`
	Env         map[string]string `json:"env"`
}

// startFn starts testdata/fn, waits until it is ready and stops it at the
// end of the test.
func startFn(tb testing.TB, env ...string) *Function {
	tb.Helper()
	f, err := Start(fnBinary, env)
	if err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() { f.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.WaitReady(ctx); err != nil {
		tb.Fatalf("WaitReady: %v", err)
	}
	return f
}

// invokeFn invokes f and decodes a successful response.
func invokeFn(tb testing.TB, f *Function, event string, timeout time.Duration) fnResponse {
	tb.Helper()
	out, err := f.Invoke(context.Background(), []byte(event), timeout)
	if err != nil {
		tb.Fatalf("Invoke(%s): %v; logs:\n%s", event, err, f.Logs())
	}
	var resp fnResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		tb.Fatalf("response %q: %v", out, err)
	}
	return resp
}

// invokeErr invokes f and returns the *FunctionError it must fail with.
func invokeErr(tb testing.TB, f *Function, event string, timeout time.Duration) *FunctionError {
	tb.Helper()
	out, err := f.Invoke(context.Background(), []byte(event), timeout)
	var ferr *FunctionError
	if !errors.As(err, &ferr) {
		tb.Fatalf("Invoke(%s) = %s, %v; want a *FunctionError", event, out, err)
	}
	return ferr
}

func TestInvokeReturnsHandlerJSON(t *testing.T) {
	f := startFn(t)
	got := invokeFn(t, f, `{"action":"echo","value":{"n":1,"s":"héllo"}}`, 5*time.Second)
	if string(got.Value) != `{"n":1,"s":"héllo"}` {
		t.Errorf("value = %s, want the event's value", got.Value)
	}
	if got.PID != pidOf(f) {
		t.Errorf("pid = %d, want the child's %d", got.PID, pidOf(f))
	}
}

func TestHandlerErrorIsFunctionErrorAndProcessKeepsServing(t *testing.T) {
	f := startFn(t)
	ferr := invokeErr(t, f, `{"action":"error","value":"no email"}`, 5*time.Second)
	if ferr.Type != "BadInput" || ferr.Message != `bad input: "no email"` {
		t.Errorf("error = %q %q, want BadInput %q", ferr.Type, ferr.Message, `bad input: "no email"`)
	}
	var doc map[string]any
	if err := json.Unmarshal(ferr.Payload, &doc); err != nil || doc["errorType"] != "BadInput" {
		t.Errorf("payload = %s, want the runtime's error document", ferr.Payload)
	}
	pid := pidOf(f)
	if got := invokeFn(t, f, `{"action":"echo"}`, 5*time.Second); got.PID != pid {
		t.Errorf("pid after a handler error = %d, want the same process %d", got.PID, pid)
	}
}

// aws-lambda-go recovers a panic, posts it to .../error, then exits 1
// (InvokeResponse_Error.ShouldExit); Lambda then starts a new environment.
func TestPanicIsReportedThenProcessExitsAndIsReplaced(t *testing.T) {
	f := startFn(t)
	first := pidOf(f)
	ferr := invokeErr(t, f, `{"action":"panic","value":"x"}`, 5*time.Second)
	if ferr.Type != "string" || ferr.Message != `boom "x"` {
		t.Errorf("error = %q %q, want string %q", ferr.Type, ferr.Message, `boom "x"`)
	}
	if len(ferr.Trace) == 0 || !strings.Contains(strings.Join(ferr.Trace, "\n"), "main.go") {
		t.Errorf("trace = %q, want frames from main.go", ferr.Trace)
	}
	waitExited(t, f)
	if exited, err := f.Exited(); !exited || err == nil || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("Exited() = %v, %v; want true, exit status 1", exited, err)
	}
	got := invokeFn(t, f, `{"action":"echo"}`, 5*time.Second)
	if got.PID == first {
		t.Errorf("pid after the panic = %d, want a new process", got.PID)
	}
}

func TestTimeoutFailsInvocationAndResetsEnvironment(t *testing.T) {
	f := startFn(t)
	first := pidOf(f)
	start := time.Now()
	ferr := invokeErr(t, f, `{"action":"sleep","sleep":"3s"}`, 300*time.Millisecond)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Invoke took %v, want about the 300ms timeout", elapsed)
	}
	if !ferr.TimedOut() || !strings.Contains(ferr.Message, "Task timed out after 0.30 seconds") {
		t.Errorf("error = %q %q, want %s and a task-timed-out message", ferr.Type, ferr.Message, ErrorTypeTimeout)
	}
	if exited, _ := f.Exited(); !exited {
		t.Errorf("Exited() = false after a timeout, want the environment reset")
	}
	if got := invokeFn(t, f, `{"action":"echo"}`, 5*time.Second); got.PID == first {
		t.Errorf("pid after the timeout = %d, want a new process", got.PID)
	}
}

func TestDeadlineAndContextReachHandler(t *testing.T) {
	f := startFn(t, "STINT_EXTRA=yes", "AWS_REGION=eu-west-1")
	before := time.Now()
	got := invokeFn(t, f, `{"action":"context"}`, 7*time.Second)
	after := time.Now()
	deadline := time.UnixMilli(got.DeadlineMs)
	if deadline.Before(before.Add(7*time.Second).Truncate(time.Millisecond)) || deadline.After(after.Add(7*time.Second)) {
		t.Errorf("ctx deadline = %v, want invoke time + 7s (between %v and %v)", deadline, before.Add(7*time.Second), after.Add(7*time.Second))
	}
	if len(got.RequestID) != 36 {
		t.Errorf("request id = %q, want a UUID", got.RequestID)
	}
	if want := "arn:aws:lambda:eu-west-1:000000000000:function:fn"; got.FunctionARN != want || f.Server.FunctionARN() != want {
		t.Errorf("function ARN = %q (server %q), want %q", got.FunctionARN, f.Server.FunctionARN(), want)
	}
	wantEnv := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME": "fn", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
		"TZ": ":UTC", "STINT_EXTRA": "yes",
	}
	for k, want := range wantEnv {
		if got.Env[k] != want {
			t.Errorf("env %s = %q, want %q", k, got.Env[k], want)
		}
	}
	if !strings.HasPrefix(got.Env["_X_AMZN_TRACE_ID"], "Root=1-") {
		t.Errorf("_X_AMZN_TRACE_ID = %q, want the Lambda-Runtime-Trace-Id header", got.Env["_X_AMZN_TRACE_ID"])
	}
}

func TestExitMidInvocationIsRuntimeExitError(t *testing.T) {
	f := startFn(t)
	ferr := invokeErr(t, f, `{"action":"exit"}`, 5*time.Second)
	if ferr.Type != ErrorTypeExit || !strings.Contains(ferr.Message, "exit status 3") {
		t.Errorf("error = %q %q, want %s with exit status 3", ferr.Type, ferr.Message, ErrorTypeExit)
	}
}

func TestResponseOverSixMBFails(t *testing.T) {
	f := startFn(t)
	ferr := invokeErr(t, f, `{"action":"big","size":6300000}`, 10*time.Second)
	if ferr.Type != ErrorTypeResponseTooLarge {
		t.Errorf("error type = %q, want %s", ferr.Type, ErrorTypeResponseTooLarge)
	}
}

func TestInitFailureExitsAndEveryInvokeFails(t *testing.T) {
	f, err := Start(fnBinary, []string{"FAIL_INIT=1"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer f.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = f.WaitReady(ctx)
	if err == nil || !strings.Contains(err.Error(), "STINT_QUEUE_URL is not set") {
		t.Errorf("WaitReady = %v, want an error with the logs", err)
	}
	if exited, err := f.Exited(); !exited || err == nil {
		t.Errorf("Exited() = %v, %v; want true and the exit error", exited, err)
	}
	ferr := invokeErr(t, f, `{"action":"echo"}`, time.Second)
	if ferr.Type != ErrorTypeExit || !strings.Contains(ferr.Message, "exit status 1") {
		t.Errorf("error = %q %q, want %s", ferr.Type, ferr.Message, ErrorTypeExit)
	}
}

func TestStopEndsProcess(t *testing.T) {
	tests := []struct {
		name     string
		env      []string
		wantLogs string
	}{
		{"plain runtime dies of SIGTERM", nil, ""},
		{"SIGTERM callback runs, then the process is killed", []string{"SIGTERM_HOOK=1"}, "fn: SIGTERM received"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFn(t, tt.env...)
			start := time.Now()
			if err := f.Stop(); err != nil {
				t.Errorf("Stop = %v, want nil", err)
			}
			if elapsed := time.Since(start); elapsed > stopGrace+time.Second {
				t.Errorf("Stop took %v, want at most about %v", elapsed, stopGrace)
			}
			if exited, _ := f.Exited(); !exited {
				t.Errorf("Exited() = false after Stop")
			}
			if !strings.Contains(f.Logs(), tt.wantLogs) {
				t.Errorf("logs = %q, want %q", f.Logs(), tt.wantLogs)
			}
			if _, err := f.Invoke(context.Background(), []byte(`{}`), time.Second); !errors.Is(err, ErrStopped) {
				t.Errorf("Invoke after Stop = %v, want ErrStopped", err)
			}
		})
	}
}

func TestStopReportsEarlierFailure(t *testing.T) {
	f := startFn(t)
	invokeErr(t, f, `{"action":"exit"}`, 5*time.Second)
	if err := f.Stop(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("Stop = %v, want the exit status 3 of the process", err)
	}
}

// waitExited waits up to 5 s for the current process to exit.
func waitExited(tb testing.TB, f *Function) {
	tb.Helper()
	select {
	case <-currentProc(f).done:
	case <-time.After(5 * time.Second):
		tb.Fatalf("process still running; logs:\n%s", f.Logs())
	}
}

// currentProc is f's current process.
func currentProc(f *Function) *process {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.proc
}

// pidOf is the pid of f's current process.
func pidOf(f *Function) int { return currentProc(f).cmd.Process.Pid }
