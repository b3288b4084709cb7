package lambdart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

const (
	// maxPayload is Lambda's limit on a synchronous invocation's event and
	// response (6 MB).
	maxPayload = 6 * 1024 * 1024
	// initTimeout bounds how long an invocation waits for the runtime to ask
	// for it; Lambda limits the on-demand init phase to 10 s.
	initTimeout = 10 * time.Second
	// accountID is the account in every ARN the fake hands out.
	accountID = "000000000000"
)

// Error types the fake itself reports in a *FunctionError, as Lambda does.
const (
	ErrorTypeTimeout          = "Sandbox.Timedout"
	ErrorTypeExit             = "Runtime.ExitError"
	ErrorTypeResponseTooLarge = "Function.ResponseSizeTooLarge"
)

var (
	// ErrRequestTooLarge is returned by Invoke for an event over 6 MB, as
	// Lambda's Invoke API answers RequestTooLargeException.
	ErrRequestTooLarge = errors.New("lambdart: RequestTooLargeException: request payload exceeds 6 MB")
	// ErrInvalidRequestContent is returned by Invoke for an event that is not
	// JSON, as Lambda's Invoke API answers InvalidRequestContentException.
	ErrInvalidRequestContent = errors.New("lambdart: InvalidRequestContentException: could not parse request body into json")
	// ErrClosed is returned by Invoke once the server is closed.
	ErrClosed = errors.New("lambdart: server closed")

	// errExited tells Function that its process ended mid-invocation.
	errExited = errors.New("lambdart: runtime exited")
)

// FunctionError is an invocation that failed: the error document the runtime
// posted (POST .../error), or one the service produced (timeout, exit).
type FunctionError struct {
	Type    string   // errorType
	Message string   // errorMessage
	Trace   []string // stackTrace, one line per frame
	// Payload is the error document as Lambda returns it to the invoker.
	Payload []byte
}

// Error implements error.
func (e *FunctionError) Error() string {
	return fmt.Sprintf("lambda function error %s: %s", e.Type, e.Message)
}

// TimedOut reports whether the invocation ran past its deadline.
func (e *FunctionError) TimedOut() bool { return e.Type == ErrorTypeTimeout }

// invocation is one event on its way through the runtime.
type invocation struct {
	id        string
	payload   []byte
	timeout   time.Duration
	traceID   string
	delivered chan struct{} // closed once /next handed it to the runtime
	deadline  time.Time     // set before delivered is closed
	done      chan struct{} // closed once the runtime answered
	result    []byte
	err       *FunctionError
}

// Server implements the Lambda Runtime API (2018-06-01) on a loopback port
// for one function (one execution environment).
type Server struct {
	ln      net.Listener
	srv     *http.Server
	slot    chan struct{}    // holds a token while an invocation is in flight
	pending chan *invocation // hands an invocation to a waiting /next
	closed  chan struct{}    // closed by Close
	once    sync.Once
	mu      sync.Mutex
	name    string         // function name, for the ARN
	region  string         // for the ARN
	current *invocation    // delivered, not yet answered
	initErr *FunctionError // from POST /runtime/init/error
	initBad chan struct{}  // closed when initErr is set
	nexts   int            // /next calls so far
	nextSig chan struct{}  // closed and replaced by every /next call
}

// NewServer starts a Runtime API server on 127.0.0.1 and a free port.
func NewServer() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdart: listen: %w", err)
	}
	s := &Server{
		ln:      ln,
		slot:    make(chan struct{}, 1),
		pending: make(chan *invocation),
		closed:  make(chan struct{}),
		name:    "function",
		region:  "us-east-1",
		initBad: make(chan struct{}),
		nextSig: make(chan struct{}),
	}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed after Close.
	return s, nil
}

// Addr is the server's "127.0.0.1:PORT", the value for AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// FunctionARN is the ARN sent as Lambda-Runtime-Invoked-Function-Arn.
func (s *Server) FunctionARN() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "arn:aws:lambda:" + s.region + ":" + accountID + ":function:" + s.name
}

// Close stops the server, ending long-polls and waiting invocations.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		err = s.srv.Close()
	})
	return err
}

// InitError returns the error the function reported at init
// (POST /runtime/init/error), if any.
func (s *Server) InitError() *FunctionError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.initErr
}

// Invoke queues one invocation, waits for the function's response or error,
// and returns it. timeout bounds the invocation from the moment the runtime
// receives it and is sent as Lambda-Runtime-Deadline-Ms. A function error,
// a timeout included, is a *FunctionError.
func (s *Server) Invoke(ctx context.Context, payload []byte, timeout time.Duration) ([]byte, error) {
	out, _, err := s.invoke(ctx, payload, timeout, nil)
	return out, err
}

// invoke is Invoke that also gives up when exited is closed (the function's
// process ended), returning errExited and the request id.
func (s *Server) invoke(ctx context.Context, payload []byte, timeout time.Duration, exited <-chan struct{}) ([]byte, string, error) {
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	switch {
	case len(payload) > maxPayload:
		return nil, "", ErrRequestTooLarge
	case !json.Valid(payload):
		return nil, "", ErrInvalidRequestContent
	case timeout <= 0:
		return nil, "", fmt.Errorf("lambdart: invoke: timeout %v must be positive", timeout)
	}
	select {
	case s.slot <- struct{}{}:
	case <-ctx.Done():
		return nil, "", fmt.Errorf("lambdart: invoke: waiting for the environment: %w", ctx.Err())
	case <-s.closed:
		return nil, "", ErrClosed
	}
	release := true
	defer func() {
		if release {
			<-s.slot
		}
	}()

	inv := &invocation{
		id:        newRequestID(),
		payload:   payload,
		timeout:   timeout,
		traceID:   newTraceID(),
		delivered: make(chan struct{}),
		done:      make(chan struct{}),
	}
	if err := s.deliver(ctx, inv, exited); err != nil {
		return nil, inv.id, err
	}
	<-inv.delivered

	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	select {
	case <-inv.done:
		return s.outcome(inv)
	case <-timer.C:
		if s.abandon(inv) {
			return s.outcome(inv)
		}
		msg := fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.id, timeout.Seconds())
		return nil, inv.id, newPlatformError(ErrorTypeTimeout, msg)
	case <-ctx.Done():
		// The invoker gave up, but as on Lambda the function runs on: the
		// environment stays busy until it answers or its deadline passes.
		release = false
		go func() {
			defer func() { <-s.slot }()
			deadline := time.NewTimer(time.Until(inv.deadline))
			defer deadline.Stop()
			select {
			case <-inv.done:
			case <-deadline.C:
				s.abandon(inv)
			case <-exited:
				s.abandon(inv)
			case <-s.closed:
			}
		}()
		return nil, inv.id, fmt.Errorf("lambdart: invoke %s: %w", inv.id, ctx.Err())
	case <-exited:
		if s.abandon(inv) {
			return s.outcome(inv)
		}
		return nil, inv.id, errExited
	case <-s.closed:
		s.abandon(inv)
		return nil, inv.id, ErrClosed
	}
}

// deliver waits until a /next call takes inv, or gives up.
func (s *Server) deliver(ctx context.Context, inv *invocation, exited <-chan struct{}) error {
	s.mu.Lock()
	initBad := s.initBad
	s.mu.Unlock()
	timer := time.NewTimer(initTimeout)
	defer timer.Stop()
	select {
	case s.pending <- inv:
		return nil
	case <-initBad:
		return s.InitError()
	case <-exited:
		return errExited
	case <-timer.C:
		return fmt.Errorf("lambdart: invoke %s: the runtime did not ask for the event (GET .../invocation/next) within %v", inv.id, initTimeout)
	case <-ctx.Done():
		return fmt.Errorf("lambdart: invoke %s: waiting for the runtime: %w", inv.id, ctx.Err())
	case <-s.closed:
		return ErrClosed
	}
}

// abandon forgets inv as the invocation in flight, so later answers for it
// get 400. It reports whether the runtime had answered after all.
func (s *Server) abandon(inv *invocation) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-inv.done:
		return true
	default:
	}
	if s.current == inv {
		s.current = nil
	}
	return false
}

// outcome is the answer of a finished invocation.
func (s *Server) outcome(inv *invocation) ([]byte, string, error) {
	if inv.err != nil {
		return nil, inv.id, inv.err
	}
	return inv.result, inv.id, nil
}

// finish records the runtime's answer for the invocation id, reporting false
// when id is not the invocation in flight.
func (s *Server) finish(id string, result []byte, ferr *FunctionError) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.current
	if inv == nil || inv.id != id {
		return false
	}
	inv.result, inv.err = result, ferr
	s.current = nil
	close(inv.done)
	return true
}

// take records that the runtime received inv and starts its deadline.
func (s *Server) take(inv *invocation) {
	s.mu.Lock()
	inv.deadline = time.Now().Add(inv.timeout)
	s.current = inv
	s.mu.Unlock()
	close(inv.delivered)
}

// noteNext counts a /next call and wakes anyone waiting for readiness.
func (s *Server) noteNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nexts++
	close(s.nextSig)
	s.nextSig = make(chan struct{})
}

// nextState returns how many /next calls there have been and a channel
// closed at the next one.
func (s *Server) nextState() (int, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nexts, s.nextSig
}

// setInitError records an init failure.
func (s *Server) setInitError(ferr *FunctionError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.initErr == nil {
		close(s.initBad)
	}
	s.initErr = ferr
}

// reset forgets the init error of a previous execution environment.
func (s *Server) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initErr = nil
	s.initBad = make(chan struct{})
}

// configure sets the function name and region used in the ARN.
func (s *Server) configure(name, region string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.name, s.region = name, region
}

// deadlineHeader formats t as Lambda-Runtime-Deadline-Ms does.
func deadlineHeader(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
