package entra

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
)

// roundUpRetryAfter rewrites a fractional Retry-After in seconds ("2.128")
// to the next whole second ("3"), innermost in the chain, so that the SDK's
// retry handler, which truncates, never retries before the service allows.
type roundUpRetryAfter struct{}

func (roundUpRetryAfter) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	resp, err := p.Next(req, i)
	if err != nil || resp == nil {
		return resp, err
	}
	if v := resp.Header.Get("Retry-After"); strings.Contains(v, ".") {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			resp.Header.Set("Retry-After", strconv.Itoa(int(math.Ceil(secs))))
			resp.Header.Set("X-Stint-Retry-After", v) // the original, for our own error
		}
	}
	return resp, nil
}

// replayableBody, outside the retry handler, reads a request body once and
// gives the request a GetBody; freshBody, inside it, sends every attempt
// with a body of its own. The SDK's retry handler rewinds and resends the
// one body it has, but net/http may still be reading that body for the
// failed attempt when the answer is already back (a server may answer 429
// before reading the body; net/http documents that a body must not be
// reused until the transport closes it). Seen here: a retried POST went out
// with an empty body and Graph answered 400 "Unable to read JSON request
// payload".
type replayableBody struct{}

func (replayableBody) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return p.Next(req, i)
	}
	data, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	req.Body, _ = req.GetBody()
	req.ContentLength = int64(len(data))
	return p.Next(req, i)
}

type freshBody struct{}

func (freshBody) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if req.GetBody == nil {
		return p.Next(req, i)
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	attempt := req.Clone(req.Context())
	attempt.Body = body
	return p.Next(attempt, i)
}

// retryAfter reads the wait a response asks for: seconds (fractional
// allowed) or an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("X-Stint-Retry-After")
	if v == "" {
		v = h.Get("Retry-After")
	}
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// recordResponses, outermost in the chain, notes the final response of
// each call (after retries) in the call's context, for the request-id.
type recordResponses struct{}

type lastResponseKey struct{}

// lastResponse holds what recordResponses saw for one call.
type lastResponse struct {
	requestID string
	status    int
	header    http.Header
}

func (recordResponses) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	resp, err := p.Next(req, i)
	if last, ok := req.Context().Value(lastResponseKey{}).(*lastResponse); ok && resp != nil {
		last.requestID, last.status, last.header = resp.Header.Get("request-id"), resp.StatusCode, resp.Header.Clone()
	}
	return resp, err
}

// call returns a context that records the final response of the call made
// with it.
func call(ctx context.Context) (context.Context, *lastResponse) {
	last := &lastResponse{}
	return context.WithValue(ctx, lastResponseKey{}, last), last
}
