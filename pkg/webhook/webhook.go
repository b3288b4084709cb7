// Package webhook receives signed events from HR and contract systems:
// it verifies the Standard Webhooks signature, validates the event and
// enqueues it, answering only once the queue holds it.
//
//	202  accepted: durably enqueued; the body names the event id
//	400  invalid event: application/problem+json naming the field (a JSON
//	     pointer) and the reason; also an access key not configured, and a
//	     time more than engagement.MaxClockSkew (5 minutes) ahead of now
//	401  missing or bad signature, or a timestamp outside ±5 minutes
//	409  the event id was already accepted from the same source with another
//	     body: problem+json, pointer /id (the same body again is a 202)
//	413  body over 64 KiB
//	503  the queue is unavailable: the sender retries later
//
// On a Lambda Function URL, AWS bounds each request. Over plain HTTP
// (`stint serve`), NewServer, LimitListener and Shutdown do: every timeout
// set, small headers, a cap on connections, and a stop within 2 s.
//
// It does not import the Graph SDK: the webhook binary stays small.
package webhook

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/fault"
)

// Verifier checks Standard Webhooks signatures against one or more secrets
// (several during a rotation). Signatures are compared in constant time by
// the library (hmac.Equal); no secret or signature is ever printed.
type Verifier struct {
	hooks []*standardwebhooks.Webhook
}

// ParseSecrets reads STINT_WEBHOOK_SECRET: "whsec_<base64>", several
// separated by spaces.
func ParseSecrets(value string) (*Verifier, error) {
	fields := strings.Fields(value)
	if len(fields) == 0 {
		return nil, fault.Errorf(fault.Invalid, "STINT_WEBHOOK_SECRET is not set: want whsec_<base64>, several separated by spaces to rotate")
	}
	v := &Verifier{}
	for i, f := range fields {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(f, "whsec_"))
		if !strings.HasPrefix(f, "whsec_") || err != nil || len(key) < 24 {
			return nil, fault.Errorf(fault.Invalid, "STINT_WEBHOOK_SECRET: secret %d of %d is not whsec_ followed by at least 24 bytes of base64", i+1, len(fields))
		}
		hook, err := standardwebhooks.NewWebhookRaw(key)
		if err != nil {
			return nil, fault.Errorf(fault.Invalid, "STINT_WEBHOOK_SECRET: secret %d of %d: %v", i+1, len(fields), err)
		}
		v.hooks = append(v.hooks, hook)
	}
	return v, nil
}

// Verify accepts the delivery if any secret's signature matches and the
// timestamp is within the tolerance. The error says which check failed,
// never with what.
func (v *Verifier) Verify(body []byte, h http.Header) error {
	var err error
	for _, hook := range v.hooks {
		if err = hook.Verify(body, h); err == nil {
			return nil
		}
		if !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
			break // headers or timestamp: the same for every secret
		}
	}
	switch {
	case errors.Is(err, standardwebhooks.ErrRequiredHeaders):
		return errors.New("webhook-id, webhook-timestamp and webhook-signature headers are required")
	case errors.Is(err, standardwebhooks.ErrMessageTooOld), errors.Is(err, standardwebhooks.ErrMessageTooNew):
		return errors.New("webhook-timestamp is more than 5 minutes from now: check the sender's clock, or it is a replay")
	case errors.Is(err, standardwebhooks.ErrNoMatchingSignature):
		return errors.New("no signature matches: check the webhook secret")
	}
	return errors.New("webhook-timestamp or webhook-signature is malformed")
}

// Handler is the webhook function.
type Handler struct {
	Verifier *Verifier
	Queue    engagement.Queue
	// AccessKeys, when set, are the configured access keys (STINT_GROUPS):
	// an event naming another is refused here with 400, before the queue.
	AccessKeys []string
	Log        *slog.Logger
	// Now is the clock an event's time is checked against; nil is
	// time.Now. Tests set it.
	Now func() time.Time
	// Observe, when set, is told what became of each delivery — for
	// metrics (pkg/metrics), without this package linking them: result is
	// Accepted, Duplicate, Refused or Unavailable; reason, for a refusal,
	// is one of a fixed few words (too_large, unauthorized, invalid,
	// time_ahead, unknown_access, id_reused, method, unreadable), never
	// the sender's.
	Observe func(result, reason string)
}

// What became of a delivery, as Observe is told.
const (
	// Accepted: queued (202).
	Accepted = "accepted"
	// Duplicate: the queue held the same event already (202 again). Only
	// a queue that says so when it takes a message (Putter) tells; on the
	// others a duplicate is counted as accepted.
	Duplicate = "duplicate"
	// Refused: 4xx, with the reason.
	Refused = "refused"
	// Unavailable: the queue was (503).
	Unavailable = "unavailable"
)

// Putter is a queue that says, as it takes a message, whether it was new
// or the same message again, so that Observe hears of a duplicate (the
// embedded queue).
type Putter interface {
	Put(ctx context.Context, m engagement.Message) (queued bool, err error)
}

func (h *Handler) observe(result, reason string) {
	if h.Observe != nil {
		h.Observe(result, reason)
	}
}

// Response is what the handler answers, transport-neutral.
type Response struct {
	Status  int
	Headers map[string]string
	Body    string
}

// Receive handles one delivery: the body and its headers.
//
// Until the signature is checked anyone may be the sender, so a refusal
// before it (413, 401) logs one short line: the status, our own reason and
// the webhook-id clipped to 64 characters; nothing else the sender chose.
func (h *Handler) Receive(ctx context.Context, body []byte, header http.Header) Response {
	log := h.Log.With("webhook_id", clip(header.Get("webhook-id")))
	if len(body) > event.MaxBodySize {
		log.WarnContext(ctx, "webhook: refused", "status", 413, "bytes", len(body))
		h.observe(Refused, "too_large")
		return problem(http.StatusRequestEntityTooLarge, "Payload too large", fmt.Sprintf("the body is %d bytes; the limit is %d", len(body), event.MaxBodySize), nil)
	}
	if err := h.Verifier.Verify(body, header); err != nil {
		log.WarnContext(ctx, "webhook: refused", "status", 401, "reason", err.Error())
		h.observe(Refused, "unauthorized")
		return problem(http.StatusUnauthorized, "Unauthorized", err.Error(), nil)
	}
	ev, err := event.Parse(body)
	var perr *event.Error
	if errors.As(err, &perr) {
		log.WarnContext(ctx, "webhook: refused", "status", 400, "pointer", perr.Pointer, "reason", perr.Reason)
		h.observe(Refused, "invalid")
		return problem(http.StatusBadRequest, "Invalid event", err.Error(), map[string]string{"pointer": perr.Pointer, "reason": perr.Reason})
	}
	if reason, err := h.check(ev); err != nil {
		log.WarnContext(ctx, "webhook: refused", "status", 400, "event_id", ev.ID, "pointer", err.Pointer, "reason", err.Reason)
		h.observe(Refused, reason)
		return problem(http.StatusBadRequest, "Invalid event", err.Error(), map[string]string{"pointer": err.Pointer, "reason": err.Reason})
	}
	return h.enqueue(ctx, log, ev, body)
}

// enqueue hands a valid event to the queue under its deduplication key,
// ev.Key(): CloudEvents ids are unique per source only, so two senders'
// events with one id are two events. The queue answers nil for the same
// body again (the sender retried: 202 again) and fault.Conflict for
// another body under a key it holds, which is a sender reusing an id for a
// different event: refused with 409 rather than dropped as a duplicate.
func (h *Handler) enqueue(ctx context.Context, log *slog.Logger, ev event.Event, body []byte) Response {
	msg := engagement.Message{ID: ev.Key(), Digest: ev.Digest(), Group: ev.ContractorKey(), Body: body}
	again, err := h.put(ctx, msg)
	switch {
	case fault.Is(err, fault.Conflict):
		log.WarnContext(ctx, "webhook: refused", "status", 409, "event_id", ev.ID, "source", ev.Source, "reason", "event id reused with another body")
		h.observe(Refused, "id_reused")
		detail := fmt.Sprintf("event id %q from source %q was already accepted with another body; the same id with a different body is refused: send a new id for a new event", ev.ID, ev.Source)
		return problem(http.StatusConflict, "Event id reused", detail, map[string]string{"pointer": "/id"})
	case err != nil:
		log.ErrorContext(ctx, "webhook: queue unavailable", "status", 503, "event_id", ev.ID, "source", ev.Source, "error", err.Error())
		h.observe(Unavailable, "")
		r := problem(http.StatusServiceUnavailable, "Queue unavailable", "the event was not accepted; send it again later", nil)
		r.Headers["Retry-After"] = "30"
		return r
	}
	log.InfoContext(ctx, "webhook: accepted", "status", 202, "event_id", ev.ID, "source", ev.Source, "type", string(ev.Type), "engagement", ev.Data.EngagementID, "contractor", ev.ContractorKey())
	if again {
		h.observe(Duplicate, "")
	} else {
		h.observe(Accepted, "")
	}
	b, _ := json.Marshal(map[string]string{"id": ev.ID, "status": "accepted"})
	return Response{Status: http.StatusAccepted, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

// put enqueues msg and reports whether the queue held it already, when
// the queue can say so (Putter) in the same step.
func (h *Handler) put(ctx context.Context, msg engagement.Message) (again bool, err error) {
	if p, ok := h.Queue.(Putter); ok {
		queued, err := p.Put(ctx, msg)
		return err == nil && !queued, err
	}
	return false, h.Queue.Enqueue(ctx, msg)
}

// check refuses, before the queue, an event the worker could never apply
// and would only dead-letter after the sender was told 202; reason names
// the check for Observe.
func (h *Handler) check(ev event.Event) (reason string, err *event.Error) {
	if err := h.checkTime(ev); err != nil {
		return "time_ahead", err
	}
	if err := h.checkAccess(ev); err != nil {
		return "unknown_access", err
	}
	return "", nil
}

// checkTime applies the worker's clock-skew rule (engagement.MaxClockSkew):
// an event stamped further ahead would outrank every later event. The
// worker checks again when it applies the event, later, so an event this
// check passes passes there too (on the same clock).
func (h *Handler) checkTime(ev event.Event) *event.Error {
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	if !ev.Time.After(now.Add(engagement.MaxClockSkew)) {
		return nil
	}
	ahead := ev.Time.Sub(now).Round(time.Second)
	return &event.Error{Pointer: "/time", Reason: fmt.Sprintf("%s is %s ahead of this server's clock (%s); the limit is %s: fix the sender's clock",
		ev.Time.Format(time.RFC3339), ahead, now.UTC().Format(time.RFC3339), engagement.MaxClockSkew)}
}

func (h *Handler) checkAccess(ev event.Event) *event.Error {
	i := engagement.Unconfigured(ev.Data.Access, h.AccessKeys)
	if i < 0 {
		return nil
	}
	return &event.Error{Pointer: fmt.Sprintf("/data/access/%d", i), Reason: fmt.Sprintf("%q is not a configured access key (configured: %s)", ev.Data.Access[i], strings.Join(h.AccessKeys, ", "))}
}

// problem builds an RFC 9457 problem+json answer; extra members (pointer,
// reason) name the field of an invalid event.
func problem(status int, title, detail string, extra map[string]string) Response {
	p := map[string]any{"type": "about:blank", "title": title, "status": status, "detail": detail}
	for k, v := range extra {
		p[k] = v
	}
	b, _ := json.Marshal(p)
	return Response{Status: status, Headers: map[string]string{"Content-Type": "application/problem+json"}, Body: string(b)}
}

// Handle is the Lambda entry point, for a Function URL (or an API Gateway
// HTTP API with the same payload).
func (h *Handler) Handle(ctx context.Context, req events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			h.observe(Refused, "invalid")
			r := problem(http.StatusBadRequest, "Bad request", "the body is marked base64 but is not", nil)
			return events.LambdaFunctionURLResponse{StatusCode: r.Status, Headers: r.Headers, Body: r.Body}, nil
		}
	}
	header := http.Header{}
	for k, v := range req.Headers {
		header.Set(k, v)
	}
	r := h.Receive(ctx, body, header)
	return events.LambdaFunctionURLResponse{StatusCode: r.Status, Headers: r.Headers, Body: r.Body}, nil
}

// ServeHTTP serves the same over plain HTTP, for the single-process host.
func (h *Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		h.observe(Refused, "method")
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST events here", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, event.MaxBodySize+1))
	if err != nil {
		h.observe(Refused, "unreadable")
		http.Error(w, "could not read the body", http.StatusBadRequest)
		return
	}
	r := h.Receive(req.Context(), body, req.Header)
	for k, v := range r.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(r.Status)
	io.WriteString(w, r.Body)
}

// Sign returns the Standard Webhooks headers for a delivery of body, signed
// with secret (whsec_<base64>): what a sender — or `stint send` — attaches.
func Sign(secret, id string, at time.Time, body []byte) (http.Header, error) {
	hook, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, fault.Errorf(fault.Invalid, "webhook secret is not whsec_<base64>")
	}
	sig, err := hook.Sign(id, at, body)
	if err != nil {
		return nil, fmt.Errorf("webhook: sign: %w", err)
	}
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, id)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	return h, nil
}
