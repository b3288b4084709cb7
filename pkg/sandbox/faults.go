package sandbox

import (
	"net/http"
	"strings"
	"time"
)

// Fault is a failure injected into Graph requests, matched before routing.
type Fault struct {
	// Method matches the HTTP method; "" matches any.
	Method string
	// Path is a prefix of the path after /v1.0, e.g. "/invitations" or
	// "/groups/", compared case-insensitively; "" matches any Graph path.
	Path string
	// Status is the status to answer with (429, 500, 503, 504, …); 0 means
	// no status fault, e.g. latency only. The body is a full Graph error;
	// a 429 gets exactly the body real throttling gets.
	Status int
	// RetryAfter is the Retry-After header value, verbatim (e.g. "2" or
	// "2.128"); "" sends none.
	RetryAfter string
	// Latency is added before answering.
	Latency time.Duration
	// Drop closes the connection without answering.
	Drop bool
	// Times is how many matching requests the fault hits; 0 means every
	// one until ClearFaults.
	Times int
	// InBatch targets the items inside $batch envelopes instead of
	// requests on the wire. A fault with InBatch set answers a matching
	// item with its own status inside a 200 envelope and never faults the
	// envelope; one without it never touches items. A dropping item fault
	// drops the envelope's connection after the items before it ran.
	InBatch bool
}

type faultRule struct {
	Fault
	left int
}

// Inject adds a fault. Faults are tried in the order injected: latency
// faults add up, and the first matching fault with a Status or Drop
// decides the answer.
func (t *Tenant) Inject(f Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = append(t.faults, &faultRule{Fault: f, left: f.Times})
}

// ClearFaults removes every injected fault.
func (t *Tenant) ClearFaults() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = nil
}

// SetLatency adds d to every Graph request on the wire (a $batch envelope
// counts once), to stand in for the real service's response time.
func (t *Tenant) SetLatency(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.latency = d
}

func (t *Tenant) currentLatency() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latency
}

// matchFaults consumes the faults that match c and returns their total
// latency and the deciding fault, if any.
func (t *Tenant) matchFaults(c *gcall) (time.Duration, *Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var latency time.Duration
	var hit *Fault
	kept := t.faults[:0]
	for _, r := range t.faults {
		match := hit == nil && r.InBatch == c.inBatch &&
			(r.Method == "" || strings.EqualFold(r.Method, c.method)) &&
			strings.HasPrefix(strings.ToLower(c.path), strings.ToLower(r.Path))
		if match {
			latency += r.Latency
			if r.Drop || r.Status != 0 {
				f := r.Fault
				hit = &f
			}
			if r.Times > 0 {
				r.left--
			}
		}
		if r.Times == 0 || r.left > 0 {
			kept = append(kept, r)
		}
	}
	clear(t.faults[len(kept):])
	t.faults = kept
	return latency, hit
}

// applyFaults runs the faults matching c; it returns nil when the request
// should go on.
func (t *Tenant) applyFaults(c *gcall) *gresp {
	latency, f := t.matchFaults(c)
	sleep(c.done, latency)
	if f == nil {
		return nil
	}
	if f.Drop {
		return &gresp{drop: true}
	}
	code, msg := faultCode(f.Status)
	res := c.fail(f.Status, code, msg)
	if f.RetryAfter != "" {
		res.header.Set("Retry-After", f.RetryAfter)
	}
	return res
}

// faultCode is the error code and message Graph uses for a status.
func faultCode(status int) (code, msg string) {
	switch status {
	case http.StatusTooManyRequests:
		return "TooManyRequests", "Please retry again later."
	case http.StatusServiceUnavailable:
		return "serviceNotAvailable", "The service is temporarily unavailable. Please retry later."
	case http.StatusGatewayTimeout:
		return "UnknownError", "The request timed out."
	case http.StatusBadRequest:
		return "BadRequest", "Bad request."
	case http.StatusNotFound:
		return "Request_ResourceNotFound", "Resource does not exist."
	case http.StatusUnauthorized:
		return "InvalidAuthenticationToken", "Access token validation failure."
	case http.StatusForbidden:
		return "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
	}
	if status >= 500 {
		return "generalException", "An unspecified error has occurred."
	}
	return "UnknownError", http.StatusText(status)
}

// dropConnection closes the client's connection without an answer. Over
// HTTP/2, where a connection cannot be hijacked, it resets the stream.
func dropConnection(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}
