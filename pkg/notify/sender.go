package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/webhook"
)

// Sender delivers the outbox's due notifications to config.Notify.URL.
type Sender struct {
	Notify config.Notify
	// Client sends the requests; nil is a client with a 30 s timeout that
	// does not follow redirects (a redirect is given up: a signed
	// notification goes where it was configured to go, or nowhere).
	Client *http.Client
	// Now is the clock; nil is time.Now. Tests set it.
	Now func() time.Time
	Log *slog.Logger
}

// Retries.
const (
	// MaxAttempts is how many deliveries of one notification are tried
	// before it is given up: with the backoff (1+2+…+32 minutes, then
	// hourly) the last is about 24 hours after the first.
	MaxAttempts = 30
	// firstBackoff is the wait after the first failure; it doubles with
	// each failure, up to maxBackoff.
	firstBackoff = time.Minute
	maxBackoff   = time.Hour
	// maxRetryAfter bounds a receiver's Retry-After.
	maxRetryAfter = 24 * time.Hour
)

// Backoff is the wait after a notification's failed-th failed attempt:
// 1m, 2m, 4m … capped at 1h.
func Backoff(failed int) time.Duration {
	if failed < 1 {
		return 0
	}
	if failed > 7 {
		return maxBackoff
	}
	return min(firstBackoff<<(failed-1), maxBackoff)
}

// Flush prunes the outbox, then sends the due entries — pending, or
// retrying whose NextAttempt has come — oldest first, and records each
// outcome. sent counts the 2xx answers, failed the other attempts (to be
// retried or given up); both are logged. err is for what stops the flush:
// the ledger, an unusable setting, ctx. Without a URL it sends nothing.
func (s *Sender) Flush(ctx context.Context, o *Outbox) (sent, failed int, err error) {
	if s.Notify.URL == "" {
		return 0, 0, nil
	}
	if err := s.check(); err != nil {
		return 0, 0, err
	}
	if _, err := o.Prune(ctx, s.now()); err != nil {
		return 0, 0, err
	}
	entries, err := o.List(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		if !e.State.Due() || e.NextAttempt.After(s.now()) {
			continue
		}
		done, err := s.attempt(ctx, e)
		if err != nil {
			return sent, failed, err
		}
		if err := o.put(ctx, done); err != nil {
			return sent, failed, err
		}
		if done.State == Sent {
			sent++
		} else {
			failed++
		}
	}
	return sent, failed, nil
}

// check refuses settings no delivery could succeed with, before any is
// tried: a format not known, a secret that is missing (CloudEvents) or not
// whsec_<base64>.
func (s *Sender) check() error {
	if _, _, err := Body(s.Notify.Format, Notification{}); err != nil {
		return err
	}
	if s.Notify.Secret == "" {
		if s.Notify.Format == config.NotifyCloudEvents || s.Notify.Format == "" {
			return fault.Errorf(fault.Invalid, "STINT_NOTIFY_SECRET is not set: CloudEvents notifications are signed (Standard Webhooks); set a whsec_ secret the receiver knows")
		}
		return nil
	}
	if _, err := webhook.Sign(s.Notify.Secret, "check", time.Unix(0, 0), nil); err != nil {
		return fault.Errorf(fault.Invalid, "STINT_NOTIFY_SECRET is not whsec_ followed by base64: set the secret the receiver knows")
	}
	return nil
}

// outcome is what one delivery attempt came to.
type outcome struct {
	ok bool
	// final: the answer will not change by itself; do not retry.
	final bool
	// retryAfter is the receiver's Retry-After, if it sent one.
	retryAfter time.Duration
	// status is the HTTP status; 0 when no answer came.
	status int
	reason string
}

// attempt delivers one entry and returns it updated. Only ctx ending
// mid-request is an error: the attempt is then not recorded (the
// receiver may have it; at least once).
func (s *Sender) attempt(ctx context.Context, e Entry) (Entry, error) {
	now := s.now()
	res := s.deliver(ctx, e.Notification, now)
	if res.status == 0 && ctx.Err() != nil {
		return e, fmt.Errorf("notify: deliver %q: %w", e.Notification.ID, ctx.Err())
	}
	e.Attempts++
	e.LastAttempt = now
	log := s.log().With("notification", e.Notification.ID, "type", string(e.Notification.Type), "attempt", e.Attempts, "host", s.host())
	if res.status != 0 {
		log = log.With("status", res.status)
	}
	switch {
	case res.ok:
		e.State, e.SentAt, e.NextAttempt, e.LastError = Sent, now, time.Time{}, ""
		log.InfoContext(ctx, "notify: sent")
	case res.final:
		e.State, e.NextAttempt, e.LastError = GivenUp, time.Time{}, res.reason
		log.ErrorContext(ctx, "notify: given up: the receiver refused it, and will again", "reason", res.reason)
	case e.Attempts >= MaxAttempts:
		e.State, e.NextAttempt, e.LastError = GivenUp, time.Time{}, res.reason
		log.ErrorContext(ctx, fmt.Sprintf("notify: given up after %d attempts", e.Attempts), "reason", res.reason)
	default:
		wait := Backoff(e.Attempts)
		if res.retryAfter > 0 {
			wait = min(res.retryAfter, maxRetryAfter)
		}
		e.State, e.NextAttempt, e.LastError = Retrying, now.Add(wait), res.reason
		log.WarnContext(ctx, "notify: failed; will retry", "reason", res.reason, "retry_in", wait.String())
	}
	return e, nil
}

// deliver sends one notification, signed at now when a secret is set.
func (s *Sender) deliver(ctx context.Context, n Notification, now time.Time) outcome {
	body, contentType, err := Body(s.Notify.Format, n)
	if err != nil {
		return outcome{final: true, reason: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Notify.URL, bytes.NewReader(body))
	if err != nil {
		// The message of url.Parse's error holds the URL: leave it out.
		return outcome{final: true, reason: "STINT_NOTIFY_URL is not a valid URL"}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "stint")
	if s.Notify.Secret != "" {
		h, err := webhook.Sign(s.Notify.Secret, n.ID, now, body)
		if err != nil {
			return outcome{final: true, reason: "STINT_NOTIFY_SECRET is not whsec_ followed by base64"}
		}
		for k, v := range h {
			req.Header[k] = v
		}
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return outcome{reason: networkError(err)}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	return judge(resp, head, now)
}

// judge reads the receiver's answer: 2xx is delivered; 408, 429 and 5xx
// may pass (retry, after Retry-After when given); anything else will not.
func judge(resp *http.Response, head []byte, now time.Time) outcome {
	code := resp.StatusCode
	res := outcome{status: code}
	switch {
	case code >= 200 && code < 300:
		res.ok = true
		return res
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		res.retryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
	case code == http.StatusGone:
		res.final = true
	case code >= 300 && code < 400:
		res.final = true
		res.reason = fmt.Sprintf("%d %s: redirects are not followed; set STINT_NOTIFY_URL to the final address", code, http.StatusText(code))
		return res
	default:
		res.final = true
	}
	res.reason = fmt.Sprintf("%d %s", code, http.StatusText(code))
	if code == http.StatusGone {
		res.reason += ": the receiver is gone (a deleted Teams workflow or Slack webhook?); set STINT_NOTIFY_URL to a live one"
	}
	if text := oneLine(head); text != "" {
		res.reason += ": " + text
	}
	return res
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return max(time.Duration(secs)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// networkError says why a request got no answer, without the URL that
// url.Error puts in its message (Teams and Slack URLs are credentials).
func networkError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return "no answer: " + err.Error()
}

// oneLine is the start of a receiver's answer, on one line, for the log
// and `stint notify list`.
func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

func (s *Sender) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return defaultClient
}

var defaultClient = &http.Client{
	Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sender) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// host is the receiver's host, the only part of the URL that is logged.
func (s *Sender) host() string {
	u, err := url.Parse(s.Notify.URL)
	if err != nil {
		return ""
	}
	return u.Host
}
