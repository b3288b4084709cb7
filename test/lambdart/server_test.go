package lambdart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runtimeClient speaks the Runtime API by hand, as a custom runtime would.
type runtimeClient struct {
	tb   testing.TB
	base string
}

func newRuntimeClient(tb testing.TB) (*Server, *runtimeClient) {
	tb.Helper()
	s, err := NewServer()
	if err != nil {
		tb.Fatalf("NewServer: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, &runtimeClient{tb: tb, base: "http://" + s.Addr() + "/2018-06-01/runtime/"}
}

// next long-polls for an event, giving up after wait.
func (c *runtimeClient) next(wait time.Duration) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"invocation/next", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// post sends body to path and returns the status and decoded JSON answer.
func (c *runtimeClient) post(path, body string, header http.Header) (int, map[string]string) {
	c.tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var doc map[string]string
	json.NewDecoder(resp.Body).Decode(&doc)
	return resp.StatusCode, doc
}

// result is one Invoke's outcome.
type result struct {
	out []byte
	err error
}

// invokeAsync runs s.Invoke in the background.
func invokeAsync(s *Server, payload string, timeout time.Duration) <-chan result {
	ch := make(chan result, 1)
	go func() {
		out, err := s.Invoke(context.Background(), []byte(payload), timeout)
		ch <- result{out, err}
	}()
	return ch
}

func TestNextCarriesEventAndDocumentedHeaders(t *testing.T) {
	s, c := newRuntimeClient(t)
	before := time.Now()
	done := invokeAsync(s, `{"a":1}`, 3*time.Second)
	resp, body, err := c.next(5 * time.Second)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != `{"a":1}` {
		t.Errorf("next = %d %s, want 200 and the event", resp.StatusCode, body)
	}
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	ms, _ := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	if d := time.UnixMilli(ms).Sub(before); d < 2900*time.Millisecond || d > 4*time.Second {
		t.Errorf("deadline is %v after the invoke, want about 3s", d)
	}
	for header, want := range map[string]string{
		"Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:function",
		"Content-Type":                        "application/json",
	} {
		if got := resp.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	if !strings.HasPrefix(resp.Header.Get("Lambda-Runtime-Trace-Id"), "Root=1-") || id == "" {
		t.Errorf("request id %q, trace id %q: want both set", id, resp.Header.Get("Lambda-Runtime-Trace-Id"))
	}
	status, doc := c.post("invocation/"+id+"/response", `"ok"`, nil)
	if status != http.StatusAccepted || doc["status"] != "OK" {
		t.Errorf("response = %d %v, want 202 {status: OK}", status, doc)
	}
	if r := <-done; r.err != nil || string(r.out) != `"ok"` {
		t.Errorf("Invoke = %s, %v; want \"ok\"", r.out, r.err)
	}
}

func TestErrorPostBecomesFunctionError(t *testing.T) {
	s, c := newRuntimeClient(t)
	done := invokeAsync(s, `{}`, 3*time.Second)
	resp, _, err := c.next(5 * time.Second)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	status, _ := c.post("invocation/"+id+"/error",
		`{"errorMessage":"db down","errorType":"Transient","stackTrace":["at a","at b"]}`,
		http.Header{"Lambda-Runtime-Function-Error-Type": {"Unhandled"}})
	if status != http.StatusAccepted {
		t.Errorf("error post = %d, want 202", status)
	}
	r := <-done
	var ferr *FunctionError
	if !errors.As(r.err, &ferr) || ferr.Type != "Transient" || ferr.Message != "db down" || len(ferr.Trace) != 2 {
		t.Errorf("Invoke error = %#v, want Transient/db down with 2 frames", r.err)
	}
}

func TestUnknownRequestIDIsRejected(t *testing.T) {
	_, c := newRuntimeClient(t)
	for _, path := range []string{"invocation/nope/response", "invocation/nope/error"} {
		status, doc := c.post(path, `{}`, nil)
		if status != http.StatusBadRequest || doc["errorType"] != "InvalidRequestID" || doc["errorMessage"] == "" {
			t.Errorf("POST %s = %d %v, want 400 InvalidRequestID", path, status, doc)
		}
	}
}

func TestInitErrorIsRecordedAndFailsInvoke(t *testing.T) {
	s, c := newRuntimeClient(t)
	status, _ := c.post("init/error", `{"errorMessage":"no config","errorType":"Config"}`,
		http.Header{"Lambda-Runtime-Function-Error-Type": {"Runtime.Config"}})
	if status != http.StatusAccepted {
		t.Errorf("init/error = %d, want 202", status)
	}
	if ierr := s.InitError(); ierr == nil || ierr.Type != "Config" || ierr.Message != "no config" {
		t.Errorf("InitError() = %v, want Config/no config", ierr)
	}
	_, err := s.Invoke(context.Background(), []byte(`{}`), time.Second)
	var ferr *FunctionError
	if !errors.As(err, &ferr) || ferr.Message != "no config" {
		t.Errorf("Invoke = %v, want the init error", err)
	}
}

func TestOneInvocationInFlightAtATime(t *testing.T) {
	s, c := newRuntimeClient(t)
	first := invokeAsync(s, `{"n":1}`, 5*time.Second)
	resp, body, err := c.next(5 * time.Second)
	if err != nil || string(body) != `{"n":1}` {
		t.Fatalf("next = %s, %v; want the first event", body, err)
	}
	second := invokeAsync(s, `{"n":2}`, 5*time.Second)
	if _, body, err := c.next(300 * time.Millisecond); err == nil {
		t.Errorf("a second next got %s while the first invocation was unanswered, want it to wait", body)
	}
	c.post("invocation/"+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", `1`, nil)
	if r := <-first; r.err != nil {
		t.Errorf("first Invoke: %v", r.err)
	}
	resp, body, err = c.next(5 * time.Second)
	if err != nil || string(body) != `{"n":2}` {
		t.Fatalf("next = %s, %v; want the second event", body, err)
	}
	c.post("invocation/"+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", `2`, nil)
	if r := <-second; r.err != nil || string(r.out) != "2" {
		t.Errorf("second Invoke = %s, %v", r.out, r.err)
	}
}

func TestLateAnswerAfterTimeoutIsRejected(t *testing.T) {
	s, c := newRuntimeClient(t)
	done := invokeAsync(s, `{}`, 100*time.Millisecond)
	resp, _, err := c.next(5 * time.Second)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	r := <-done
	var ferr *FunctionError
	if !errors.As(r.err, &ferr) || !ferr.TimedOut() {
		t.Fatalf("Invoke = %v, want a timeout", r.err)
	}
	status, doc := c.post("invocation/"+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", `1`, nil)
	if status != http.StatusBadRequest || doc["errorType"] != "InvalidRequestID" {
		t.Errorf("late response = %d %v, want 400 InvalidRequestID", status, doc)
	}
}

func TestInvokeValidatesEvent(t *testing.T) {
	s, _ := newRuntimeClient(t)
	tests := []struct {
		name    string
		payload []byte
		want    error
	}{
		{"not JSON", []byte("hello"), ErrInvalidRequestContent},
		{"over 6 MB", append(append([]byte(`"`), bytes.Repeat([]byte("x"), 6*1024*1024)...), '"'), ErrRequestTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Invoke(context.Background(), tt.payload, time.Second); !errors.Is(err, tt.want) {
				t.Errorf("Invoke = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCancelledInvokeLetsFunctionFinish(t *testing.T) {
	s, c := newRuntimeClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Invoke(ctx, []byte(`{"n":1}`), 5*time.Second)
		done <- err
	}()
	resp, _, err := c.next(5 * time.Second)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Invoke = %v, want context.Canceled", err)
	}
	second := invokeAsync(s, `{"n":2}`, 5*time.Second)
	if _, body, err := c.next(200 * time.Millisecond); err == nil {
		t.Errorf("next got %s while the cancelled invocation still runs, want it to wait", body)
	}
	status, _ := c.post("invocation/"+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", `1`, nil)
	if status != http.StatusAccepted {
		t.Errorf("the cancelled invocation's response = %d, want 202 (accepted and discarded)", status)
	}
	resp, body, err := c.next(5 * time.Second)
	if err != nil || string(body) != `{"n":2}` {
		t.Fatalf("next = %s, %v; want the second event", body, err)
	}
	c.post("invocation/"+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", `2`, nil)
	if r := <-second; r.err != nil || string(r.out) != "2" {
		t.Errorf("second Invoke = %s, %v", r.out, r.err)
	}
}
