package lambdart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long Stop waits after SIGTERM before it kills.
const stopGrace = 2 * time.Second

// ErrStopped is returned by Invoke after Stop.
var ErrStopped = errors.New("lambdart: function stopped")

// Function runs a built Lambda binary (a Go "bootstrap" using aws-lambda-go)
// as a child process against its own Server, like one execution environment.
type Function struct {
	// Server is the Runtime API the process talks to.
	Server *Server

	binary string
	dir    string
	env    []string
	logs   *logFile
	turn   chan struct{} // one Invoke at a time, process restarts included

	mu      sync.Mutex
	proc    *process
	stopped bool
	stopErr error
}

// process is one run of the binary (one execution environment).
type process struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	err      error         // cmd.Wait's result, set before done is closed
	nextBase int           // the server's /next count when it started
	termed   bool          // Stop sent SIGTERM
}

// Start runs binary against a new Server. env is added to a minimal Lambda
// environment: AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME (the
// binary's name, or its directory's when it is "bootstrap"),
// AWS_LAMBDA_FUNCTION_VERSION=$LATEST, AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128,
// AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME,
// AWS_LAMBDA_INITIALIZATION_TYPE=on-demand, AWS_REGION and
// AWS_DEFAULT_REGION (us-east-1), placeholder AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, _HANDLER, LAMBDA_TASK_ROOT
// (the binary's directory, also the working directory), PATH, HOME, LANG and
// TZ=:UTC. The caller's entries win. The child's stdout and stderr are
// captured (Logs).
func Start(binary string, env []string) (*Function, error) {
	abs, err := filepath.Abs(binary)
	if err != nil {
		return nil, fmt.Errorf("lambdart: start %s: %w", binary, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("lambdart: start: %w", err)
	}
	srv, err := NewServer()
	if err != nil {
		return nil, err
	}
	f := &Function{
		Server: srv,
		binary: abs,
		dir:    filepath.Dir(abs),
		turn:   make(chan struct{}, 1),
	}
	if f.logs, err = newLogFile(); err != nil {
		srv.Close()
		return nil, err
	}
	f.env = f.environment(env)
	name, region := lookupEnv(f.env, "AWS_LAMBDA_FUNCTION_NAME"), lookupEnv(f.env, "AWS_REGION")
	srv.configure(name, region)
	if err := f.spawn(); err != nil {
		srv.Close()
		f.logs.close()
		return nil, err
	}
	return f, nil
}

// environment builds the process environment, extra entries winning.
func (f *Function) environment(extra []string) []string {
	name := filepath.Base(f.binary)
	if name == "bootstrap" {
		name = filepath.Base(f.dir)
	}
	if v := lookupEnv(extra, "AWS_LAMBDA_FUNCTION_NAME"); v != "" {
		name = v
	}
	region := "us-east-1"
	if v := lookupEnv(extra, "AWS_REGION"); v != "" {
		region = v
	} else if v := lookupEnv(extra, "AWS_DEFAULT_REGION"); v != "" {
		region = v
	}
	base := []string{
		"AWS_LAMBDA_RUNTIME_API=" + f.Server.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + name,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + strings.ReplaceAll(newRequestID(), "-", ""),
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_REGION=" + region,
		"AWS_DEFAULT_REGION=" + region,
		"AWS_ACCESS_KEY_ID=ASIAFAKELAMBDAROLE00",
		"AWS_SECRET_ACCESS_KEY=fake-secret-access-key",
		"AWS_SESSION_TOKEN=fake-session-token",
		"_HANDLER=" + filepath.Base(f.binary),
		"LAMBDA_TASK_ROOT=" + f.dir,
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + os.TempDir(),
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
	}
	seen := map[string]bool{}
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		seen[k] = true
	}
	var env []string
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !seen[k] {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// spawn starts a new process (a fresh execution environment), unless the
// function has been stopped.
func (f *Function) spawn() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return ErrStopped
	}
	f.Server.reset()
	base, _ := f.Server.nextState()
	cmd := exec.Command(f.binary)
	cmd.Env = f.env
	cmd.Dir = f.dir
	cmd.Stdout = f.logs.file // a file, not a pipe: output is readable the moment it is written
	cmd.Stderr = f.logs.file
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lambdart: start %s: %w", f.binary, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), nextBase: base}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	f.proc = p
	return nil
}

// Invoke sends one event to the function and returns its response. A
// process that has exited is first replaced, as Lambda starts a new
// execution environment. A function error is a *FunctionError: the
// handler's error, "Sandbox.Timedout" after which the process is killed (as
// Lambda resets the environment), or "Runtime.ExitError" when the process
// died mid-invocation.
func (f *Function) Invoke(ctx context.Context, payload []byte, timeout time.Duration) ([]byte, error) {
	select {
	case f.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("lambdart: invoke: waiting for the function: %w", ctx.Err())
	}
	defer func() { <-f.turn }()

	f.mu.Lock()
	stopped, p := f.stopped, f.proc
	f.mu.Unlock()
	if stopped {
		return nil, ErrStopped
	}
	if p.exited() {
		if err := f.spawn(); err != nil {
			return nil, err
		}
		f.mu.Lock()
		p = f.proc
		f.mu.Unlock()
	}
	out, id, err := f.Server.invoke(ctx, payload, timeout, p.done)
	var ferr *FunctionError
	switch {
	case errors.Is(err, errExited):
		<-p.done
		if ierr := f.Server.InitError(); ierr != nil {
			return nil, ierr
		}
		msg := fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %v", id, p.err)
		if p.err == nil {
			msg = fmt.Sprintf("RequestId: %s Error: Runtime exited without providing a reason", id)
		}
		return nil, newPlatformError(ErrorTypeExit, msg)
	case errors.As(err, &ferr) && ferr.TimedOut():
		p.cmd.Process.Kill() //nolint:errcheck // it may have exited already
		<-p.done
	}
	return out, err
}

// Logs returns everything the process (and any process that replaced it)
// has printed so far.
func (f *Function) Logs() string { return f.logs.String() }

// Exited reports whether the current process has exited (for example it
// failed at init and exited 1), and its exit error.
func (f *Function) Exited() (bool, error) {
	f.mu.Lock()
	p := f.proc
	f.mu.Unlock()
	if !p.exited() {
		return false, nil
	}
	return true, p.err
}

// WaitReady waits until the current process has asked for an invocation
// (GET .../invocation/next), that is, finished its init. It returns an error
// holding the logs if the process exits first or ctx ends.
func (f *Function) WaitReady(ctx context.Context) error {
	f.mu.Lock()
	p := f.proc
	f.mu.Unlock()
	for {
		n, sig := f.Server.nextState()
		if n > p.nextBase {
			return nil
		}
		select {
		case <-sig:
		case <-p.done:
			if n, _ := f.Server.nextState(); n > p.nextBase {
				return nil
			}
			return fmt.Errorf("lambdart: %s exited during init: %v; logs:\n%s", f.binary, p.err, f.Logs())
		case <-ctx.Done():
			return fmt.Errorf("lambdart: %s not ready: %w; logs:\n%s", f.binary, ctx.Err(), f.Logs())
		}
	}
}

// Stop sends SIGTERM, kills the process if it has not exited 2 s later (the
// cap on Lambda's Shutdown phase), and closes the server. It returns the
// process's exit error, if any; ending because of Stop's own signals is not
// an error, so a process that had already failed (say, exited 1 after a
// panic) is the only kind that makes Stop fail.
func (f *Function) Stop() error {
	f.mu.Lock()
	if f.stopped {
		defer f.mu.Unlock()
		return f.stopErr
	}
	f.stopped = true
	p := f.proc
	f.mu.Unlock()

	if !p.exited() {
		p.termed = true
		p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have just exited
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			// As at the end of Lambda's Shutdown phase: a runtime that
			// handles SIGTERM (lambda.WithEnableSIGTERM) keeps running.
			p.cmd.Process.Kill() //nolint:errcheck // it may have just exited
			<-p.done
		}
	}
	var err error
	if p.err != nil && !(p.termed && (killedBy(p.err, syscall.SIGTERM) || killedBy(p.err, syscall.SIGKILL))) {
		err = fmt.Errorf("lambdart: %s: %w", f.binary, p.err)
	}
	f.Server.Close()
	f.logs.close()
	f.mu.Lock()
	f.stopErr = err
	f.mu.Unlock()
	return err
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// killedBy reports whether err is an exit caused by sig.
func killedBy(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// lookupEnv returns the last value of key in env.
func lookupEnv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// logFile holds a process's stdout and stderr. The child writes straight to
// the file, so everything it printed before answering an invocation is
// there when Invoke returns (a pipe would need a copying goroutine to catch
// up). close keeps the text and removes the file.
type logFile struct {
	mu   sync.Mutex
	file *os.File
	kept string // the text, once closed
}

func newLogFile() (*logFile, error) {
	f, err := os.CreateTemp("", "lambdart-logs-")
	if err != nil {
		return nil, fmt.Errorf("lambdart: log file: %w", err)
	}
	return &logFile{file: f}, nil
}

func (l *logFile) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return l.kept
	}
	b, _ := os.ReadFile(l.file.Name())
	return string(b)
}

func (l *logFile) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return
	}
	b, _ := os.ReadFile(l.file.Name())
	l.kept = string(b)
	l.file.Close()
	os.Remove(l.file.Name())
	l.file = nil
}
