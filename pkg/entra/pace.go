package entra

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	khttp "github.com/microsoft/kiota-http-go"

	"github.com/stintdev/stint/pkg/fault"
)

// Graph's write quota per app and tenant is 3,000 writes per 150 s, a
// token bucket (https://learn.microsoft.com/graph/throttling-limits): an
// app that has spent it gets one write back every writeSpacing.
const (
	writeSpacing = 150 * time.Second / 3000
	// paceIdle ends pacing: an app that has not written for this long has
	// hundreds of writes back in its bucket.
	paceIdle = 10 * time.Second
	// paceCredit is how far behind its turns the pacing may fall and catch
	// up: the bucket keeps refilling while no write is ready to go (each
	// worker between two writes), and the turns missed are spent later,
	// up to a second's worth at once.
	paceCredit = time.Second
)

// writePace spaces the client's writes once Graph has refused one for the
// write limit. Without it, every worker with a write in hand would retry
// after the same Retry-After, all but one would be refused again, and each
// refusal costs the app (Graph: "all requests accrue against your usage
// limits") and a worker its retries. Paced, writes go out one every
// writeSpacing — the rate the bucket refills at — in the order they asked,
// a $batch when its items' worth has refilled; a further 429 for the write
// limit (another process of the same app writing too) pushes the next one
// back by its Retry-After, to the millisecond. Reads are never held: they
// are charged to the resource units, not the writes.
//
// One writePace serves one client, so one app in one tenant. Several
// processes of the app (Lambda instances, replicas) each pace themselves,
// and the 429s they still meet bring them back in line.
type writePace struct {
	mu    sync.Mutex
	paced bool
	next  time.Time // when the next write may go, while paced
}

// reserve returns when a request of cost writes may go, reserving its
// place, or false when that is after deadline (then nothing is reserved).
func (p *writePace) reserve(now time.Time, cost int, deadline time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cost == 0 || !p.paced {
		return now, true
	}
	if now.Sub(p.next) > paceIdle {
		p.paced = false
		return now, true
	}
	turn := p.next
	if credit := now.Add(-paceCredit); turn.Before(credit) {
		turn = credit
	}
	at := turn.Add(time.Duration(cost-1) * writeSpacing)
	if at.Before(now) {
		at = now
	}
	if !deadline.IsZero() && at.After(deadline) {
		return at, false
	}
	p.next = turn.Add(time.Duration(cost) * writeSpacing)
	return at, true
}

// throttled notes a write refused for the write limit at now, with the
// wait Graph asked for; it reports whether that starts the pacing.
func (p *writePace) throttled(now time.Time, wait time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	started := !p.paced || now.Sub(p.next) > paceIdle
	if at := now.Add(wait); started || at.After(p.next) {
		p.next = at
	}
	p.paced = true
	return started
}

// limited notes a 429 of the write limit, saying once in the log when the
// pacing starts.
func (p *writePace) limited(ctx context.Context, log *slog.Logger, wait time.Duration) {
	if p.throttled(time.Now(), wait) {
		log.InfoContext(ctx, "entra: the app reached Graph's write limit; its writes are paced to the limit's rate until it has been idle a while",
			"retry_after", wait.String(), "every", writeSpacing.String())
	}
}

// wait holds a request of cost writes until its turn, or fails at once as
// transient, carrying the wait, when its turn comes after ctx's deadline
// (less a second for the request itself).
func (p *writePace) wait(ctx context.Context, cost int) error {
	var deadline time.Time
	if d, ok := ctx.Deadline(); ok {
		deadline = d.Add(-time.Second)
	}
	now := time.Now()
	at, ok := p.reserve(now, cost, deadline)
	if !ok {
		return &fault.Error{Code: fault.Transient, RetryAfter: at.Sub(now),
			Err: errors.New("the app is at Graph's write limit, and this write's turn comes after its deadline")}
	}
	if !at.After(now) {
		return nil
	}
	if err := sleep(ctx, at.Sub(now)); err != nil {
		return fault.Wrap(fault.Transient, err)
	}
	return nil
}

// writeLimited reports a 429 of the write limit: x-ms-throttle-scope
// names it, "<scope>/Write/<app>/<tenant>". Other 429s (resource units,
// Conditional Access, reports) are left to the retry handler.
func writeLimited(h http.Header) bool {
	parts := strings.Split(h.Get("x-ms-throttle-scope"), "/")
	return len(parts) > 1 && strings.EqualFold(parts[1], "Write")
}

type writesKey struct{}

// withWrites says how many writes the request made with ctx carries: a
// $batch's write items (0 when it only reads).
func withWrites(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, writesKey{}, n)
}

// writeCost is what a request costs the write quota: 0 for a read, the
// items it carries for a $batch (withWrites), else 1.
func writeCost(req *http.Request) int {
	if n, ok := req.Context().Value(writesKey{}).(int); ok {
		return n
	}
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		return 0
	}
	return 1
}

// paceWrites, inside the retry handler, holds each attempt of a write
// until its turn, learns from the write limit's 429s, and retries a write
// refused by them itself, at its next turn: to the millisecond Graph asked
// for, where the SDK's handler would wait whole seconds (see
// roundUpRetryAfter), up to retries times. The SDK's handler leaves those
// to it (retryWithinDeadline) and retries every other 429, 503 and 504.
type paceWrites struct {
	p       *writePace
	retries int
	log     *slog.Logger
}

func (m paceWrites) Intercept(pl khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	cost := writeCost(req)
	for attempt := 0; ; attempt++ {
		if cost > 0 {
			if err := m.p.wait(req.Context(), cost); err != nil {
				return nil, err
			}
		}
		resp, err := pl.Next(req, i)
		if err != nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || !writeLimited(resp.Header) {
			return resp, err
		}
		m.p.limited(req.Context(), m.log, retryAfter(resp.Header))
		if cost == 0 || attempt >= m.retries {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// pacedRetry reports a 429 that paceWrites has retried already: the write
// limit's, on a write.
func pacedRetry(req *http.Request, resp *http.Response) bool {
	return resp.StatusCode == http.StatusTooManyRequests && writeLimited(resp.Header) && writeCost(req) > 0
}
