package cli_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stintdev/stint/pkg/cli"
)

// webhookSecret is a valid Standard Webhooks secret for tests.
const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// eventFiles writes one small file per name into a fresh directory and
// returns their paths.
func eventFiles(tb testing.TB, names ...string) []string {
	tb.Helper()
	dir := tb.TempDir()
	var paths []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(`{"id":"`+n+`"}`), 0o600); err != nil {
			tb.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// scriptedWebhook answers each post in turn: "accept" with 202 and the
// event id, "refuse" with a 400 problem+json, "drop" by closing the
// connection without an answer (a serve killed mid-stream). Posts beyond the
// script are dropped too. It counts the posts it received.
func scriptedWebhook(tb testing.TB, script ...string) (*httptest.Server, *atomic.Int32) {
	tb.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		step := "drop"
		if i < len(script) {
			step = script[i]
		}
		var body struct{ ID string }
		json.NewDecoder(r.Body).Decode(&body)
		switch step {
		case "accept":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			json.NewEncoder(w).Encode(map[string]string{"id": body.ID, "status": "accepted"})
		case "refuse":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": "Invalid event", "status": 400,
				"detail": "invalid event: /data/endsAt: is required for engagement.started", "pointer": "/data/endsAt"})
		default:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}
	}))
	tb.Cleanup(srv.Close)
	return srv, &n
}

// A missing or unreadable file stops stint send before it posts anything,
// and the error names every such file.
func TestSendChecksEveryFileBeforeSendingAny(t *testing.T) {
	t.Setenv("STINT_WEBHOOK_SECRET", webhookSecret)
	srv, posts := scriptedWebhook(t, "accept", "accept", "accept")
	files := eventFiles(t, "a.json", "b.json")
	dir := filepath.Dir(files[0])
	missing := filepath.Join(dir, "missing.json")
	args := []string{"send", "--url", srv.URL, files[0], missing, dir, files[1]}
	code, out, errOut := run(t, args...)
	if code == 0 {
		t.Fatalf("send with a missing file exited 0:\n%s", out)
	}
	if got := posts.Load(); got != 0 {
		t.Errorf("posts = %d, want 0: nothing is sent when a file cannot be read", got)
	}
	for _, want := range []string{"nothing was sent", missing + ": does not exist", dir + ": is a directory"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// When the webhook stops answering mid-stream, stint send stops and says of
// every file whether it was accepted, refused, failed or not sent.
func TestSendReportsEveryFileWhenTheWebhookDies(t *testing.T) {
	t.Setenv("STINT_WEBHOOK_SECRET", webhookSecret)
	files := eventFiles(t, "1.json", "2.json", "3.json", "4.json")
	tests := []struct {
		name string
		json bool
	}{{"text", false}, {"json", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, posts := scriptedWebhook(t, "accept", "refuse")
			args := append([]string{"send", "--url", srv.URL}, files...)
			if tt.json {
				args = append(args, "--json")
			}
			code, out, errOut := run(t, args...)
			if code == 0 {
				t.Errorf("send exited 0 with files not accepted")
			}
			if got := posts.Load(); got != 3 {
				t.Errorf("posts = %d, want 3: stop at the first failed post", got)
			}
			if !strings.Contains(errOut, "3 of 4 events were not accepted") {
				t.Errorf("stderr = %q, want the count of events not accepted", errOut)
			}
			want := []cli.SendResult{
				{File: files[0], Outcome: "accepted", Status: 202, EventID: "1.json"},
				{File: files[1], Outcome: "refused", Status: 400, Reason: "invalid event: /data/endsAt: is required for engagement.started"},
				{File: files[2], Outcome: "failed"},
				{File: files[3], Outcome: "not sent"},
			}
			if !tt.json {
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) != len(want) {
					t.Fatalf("printed %d lines, want %d:\n%s", len(lines), len(want), out)
				}
				for i, w := range want {
					if !strings.HasPrefix(lines[i], w.Outcome) || !strings.Contains(lines[i], w.File) || !strings.Contains(lines[i], w.EventID) || !strings.Contains(lines[i], w.Reason) {
						t.Errorf("line %d = %q, want %s %s %s%s", i, lines[i], w.Outcome, w.File, w.EventID, w.Reason)
					}
				}
				return
			}
			var got []cli.SendResult
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("send --json: %v\n%s", err, out)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d results, want %d: %s", len(got), len(want), out)
			}
			for i, w := range want {
				g := got[i]
				if g.File != w.File || g.Outcome != w.Outcome || g.Status != w.Status || g.EventID != w.EventID || (w.Reason != "" && g.Reason != w.Reason) {
					t.Errorf("result %d = %+v, want %+v", i, g, w)
				}
			}
			if got[2].Reason == "" {
				t.Errorf("the failed post gives no reason: %+v", got[2])
			}
		})
	}
}

// A webhook that refuses connections from the first post: nothing is
// accepted, the first file failed, the rest were not sent.
func TestSendToAWebhookThatIsDown(t *testing.T) {
	t.Setenv("STINT_WEBHOOK_SECRET", webhookSecret)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/events"
	l.Close()
	files := eventFiles(t, "1.json", "2.json")
	code, out, errOut := run(t, append([]string{"send", "--json", "--url", url}, files...)...)
	var got []cli.SendResult
	if code == 0 || json.Unmarshal([]byte(out), &got) != nil || len(got) != 2 || got[0].Outcome != "failed" || got[1].Outcome != "not sent" {
		t.Errorf("send to a closed port = %d\n%s%s\nwant the first failed, the second not sent", code, out, errOut)
	}
}
