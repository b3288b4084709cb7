package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/webhook"
)

// What became of one file given to stint send (SendResult.Outcome).
const (
	// accepted: the webhook answered 202; the event is durably queued.
	accepted = "accepted"
	// refused: the webhook answered, and not 202 (an invalid event, a bad
	// signature, the queue unavailable); the reason says why.
	refused = "refused"
	// failed: the post itself failed (connection refused or dropped); the
	// webhook may or may not hold the event. Sending it again is safe: an
	// event id applied twice is applied once.
	failed = "failed"
	// notSent: stint send stopped at an earlier failure.
	notSent = "not sent"
)

// SendResult is what became of one file given to stint send.
type SendResult struct {
	File string `json:"file"`
	// Outcome is "accepted" (202: durably queued), "refused" (the webhook
	// answered otherwise; Reason says why), "failed" (the post itself
	// failed: the webhook may or may not hold the event) or "not sent"
	// (stint send stopped at an earlier failure).
	Outcome string `json:"outcome"`
	// Status is the HTTP status of the answer, 0 when there was none.
	Status int `json:"status"`
	// EventID is the id the webhook accepted.
	EventID string `json:"eventId,omitempty"`
	// Reason says why a file was refused (the problem+json detail) or
	// failed (the connection error).
	Reason string `json:"reason,omitempty"`
	// Answer is the webhook's answer as it came.
	Answer string `json:"answer"`
}

func sendCmd(g *globals) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "send FILE...",
		Short: "Sign events with the webhook secret and post them to a webhook",
		Long: `Signs each file (one event each) with Standard Webhooks and posts it. The secret
is STINT_WEBHOOK_SECRET, else the one stint serve keeps in <data>/webhook-secret.

Every file is read before any is sent: one missing or unreadable file sends
nothing. A refused event does not stop the others; a failed post (the webhook
is down) stops the sending. Each file is then reported accepted (with its event
id), refused (with the reason), failed or not sent: send again the ones not
accepted (an event applied twice is applied once). Exits 1 unless every file
was accepted.`,
		Args: cobra.MinimumNArgs(1),
		PreRunE: func(*cobra.Command, []string) error {
			return checkURL("--url", to)
		},
		RunE: func(cmd *cobra.Command, files []string) error {
			secret, err := g.webhookSecret()
			if err != nil {
				return err
			}
			bodies, err := readAll(files)
			if err != nil {
				return err
			}
			results := sendAll(cmd.Context(), g.progress(len(files), "sending"), to, secret, files, bodies)
			if g.asJSON {
				if err := g.printJSON(results); err != nil {
					return err
				}
			} else {
				printSent(g.out, results)
			}
			return notAccepted(results)
		},
	}
	cmd.Flags().StringVar(&to, "url", "http://127.0.0.1:8080/events", "the webhook URL")
	return cmd
}

// webhookSecret is STINT_WEBHOOK_SECRET, else the one stint serve keeps in
// the data directory.
func (g *globals) webhookSecret() (string, error) {
	return host.WebhookSecret(g.data, g.cfg, false)
}

// readAll reads every file, or none: the error names each file that is
// missing or unreadable, so that the operator fixes the list once, before
// any event is sent.
func readAll(files []string) ([][]byte, error) {
	bodies := make([][]byte, len(files))
	var bad []string
	for i, f := range files {
		b, err := readEvent(f)
		if err != nil {
			bad = append(bad, "\n  "+f+": "+err.Error())
			continue
		}
		bodies[i] = b
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%d of %d files cannot be read; nothing was sent:%s", len(bad), len(files), strings.Join(bad, ""))
	}
	return bodies, nil
}

// readEvent reads one event file and says plainly why it cannot.
func readEvent(f string) ([]byte, error) {
	if info, err := os.Stat(f); err == nil && info.IsDir() {
		return nil, errors.New("is a directory, not an event file")
	}
	b, err := os.ReadFile(f)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, errors.New("does not exist")
	case errors.Is(err, fs.ErrPermission):
		return nil, errors.New("is not readable (permission denied)")
	case err != nil:
		var perr *fs.PathError
		if errors.As(err, &perr) {
			err = perr.Err
		}
		return nil, err
	}
	return b, nil
}

// sendAll posts each body in turn. A refusal does not stop it (the next
// event may be fine); a failed post does, since the webhook is unlikely to
// answer the next one: the rest are reported not sent.
func sendAll(ctx context.Context, bar *progressbar.ProgressBar, to, secret string, files []string, bodies [][]byte) []SendResult {
	results := make([]SendResult, len(files))
	stopped := false
	for i, f := range files {
		results[i] = SendResult{File: f, Outcome: notSent}
		if stopped {
			continue
		}
		status, answer, err := post(ctx, to, secret, bodies[i])
		results[i] = outcome(f, status, answer, err)
		stopped = err != nil
		bar.Add(1)
	}
	bar.Finish()
	return results
}

// outcome reads the webhook's answer to one post: the event id of a 202,
// the problem+json detail of a refusal.
func outcome(file string, status int, answer string, err error) SendResult {
	r := SendResult{File: file, Status: status, Answer: strings.TrimSpace(answer)}
	if err != nil {
		r.Outcome, r.Reason = failed, err.Error()
		return r
	}
	var body struct {
		ID     string `json:"id"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	parsed := json.Unmarshal([]byte(answer), &body) == nil
	switch {
	case status == http.StatusAccepted:
		r.Outcome, r.EventID = accepted, body.ID
	case parsed && body.Detail != "":
		r.Outcome, r.Reason = refused, body.Detail
	case parsed && body.Title != "":
		r.Outcome, r.Reason = refused, body.Title
	default:
		r.Outcome, r.Reason = refused, http.StatusText(status)
		if r.Answer != "" {
			r.Reason = r.Answer
		}
	}
	return r
}

// printSent prints one line per file: outcome, file, then the event id or
// the reason.
func printSent(w io.Writer, results []SendResult) {
	for _, r := range results {
		switch r.Outcome {
		case accepted:
			fmt.Fprintf(w, "%-8s  %s  event %s\n", r.Outcome, r.File, r.EventID)
		case refused:
			fmt.Fprintf(w, "%-8s  %s  %d %s\n", r.Outcome, r.File, r.Status, r.Reason)
		case failed:
			fmt.Fprintf(w, "%-8s  %s  %s\n", r.Outcome, r.File, r.Reason)
		default:
			fmt.Fprintf(w, "%-8s  %s\n", r.Outcome, r.File)
		}
	}
}

// notAccepted is the command's error when a file was not accepted: how many,
// and what to do about each kind.
func notAccepted(results []SendResult) error {
	count := map[string]int{}
	for _, r := range results {
		count[r.Outcome]++
	}
	missed := len(results) - count[accepted]
	if missed == 0 {
		return nil
	}
	var advice []string
	if n := count[refused]; n > 0 {
		advice = append(advice, fmt.Sprintf("%d refused: fix them, then send them again", n))
	}
	if n := count[failed] + count[notSent]; n > 0 {
		advice = append(advice, fmt.Sprintf("%d failed or not sent: send them again once the webhook answers (an event applied twice is applied once)", n))
	}
	return fmt.Errorf("%d of %d events were not accepted; %s", missed, len(results), strings.Join(advice, "; "))
}

// post signs body and posts it; it returns the status and the answer.
func post(ctx context.Context, to, secret string, body []byte) (int, string, error) {
	id := "msg_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	headers, err := webhook.Sign(secret, id, time.Now(), body)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header = headers
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its text repeats the method and URL
		}
		return 0, "", fmt.Errorf("post to %s: %w (is stint serve running?)", to, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer), nil
}

// progress is a bar on a terminal and nothing otherwise (the per-item
// lines that follow say the same).
func (g *globals) progress(n int, what string) *progressbar.ProgressBar {
	f, ok := g.out.(*os.File)
	if g.asJSON || !ok || !term.IsTerminal(int(f.Fd())) || n < 2 {
		return progressbar.NewOptions(n, progressbar.OptionSetWriter(io.Discard))
	}
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription(what), progressbar.OptionShowCount())
}
