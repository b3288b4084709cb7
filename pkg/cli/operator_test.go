package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/cli"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/ledger/ledgertest"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/queue/embedded"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/sweep"
)

// seed creates a ledger (with its embedded queue) in a fresh data
// directory, lets fill write to it, closes it and returns the directory.
func seed(tb testing.TB, fill func(context.Context, *sqlite.Ledger, *embedded.Queue)) string {
	tb.Helper()
	ctx := context.Background()
	data := tb.TempDir()
	l, err := sqlite.Open(ctx, filepath.Join(data, "stint.db"))
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	q, err := embedded.Open(ctx, l.DB(), embedded.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if fill != nil {
		fill(ctx, l, q)
	}
	return data
}

// putEngagement stores e with its contractor, failing the test on error.
func putEngagement(tb testing.TB, _ context.Context, l engagement.Ledger, e engagement.Engagement) {
	tb.Helper()
	ledgertest.Put(tb, l, e)
}

// A sweep that could not settle an account exits 1 after printing its
// summary, so that a scheduler or a script notices.
func TestSweepWithErrorsExitsNonZero(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	t.Setenv("STINT_WEBHOOK_SECRET", webhookSecret)
	now := time.Now()
	tests := []struct {
		name string
		json bool
	}{{"text", false}, {"json", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Due to start, for an address two accounts of the sandbox
			// tenant hold: stint will not guess, and the tick cannot settle
			// it (and then waits a while before trying again, hence a
			// ledger per run).
			data := seed(t, func(ctx context.Context, l *sqlite.Ledger, _ *embedded.Queue) {
				putEngagement(t, ctx, l, engagement.Engagement{ID: "ENG-1", Contractor: "zed@x.example", Email: "zed@x.example",
					Access: []string{"contractor-access"}, StartsAt: now.Add(-time.Hour), EndsAt: now.Add(24 * time.Hour), Started: true, State: engagement.Pending})
			})
			twins := sandbox.New(sandbox.Options{TenantID: host.SandboxTenantID, Domain: host.SandboxDomain})
			twins.AddUser(sandbox.User{Mail: "zed@x.example", AccountEnabled: true})
			twins.AddUser(sandbox.User{DisplayName: "Zed too", OtherMails: []string{"zed@x.example"}, AccountEnabled: true})
			f, err := os.Create(filepath.Join(data, "sandbox.json"))
			if err != nil {
				t.Fatal(err)
			}
			twins.Save(f)
			f.Close()
			args := []string{"sweep", "tick", "--sandbox", "--data", data}
			if tt.json {
				args = append(args, "--json")
			}
			code, out, errOut := run(t, args...)
			if code != 1 {
				t.Errorf("sweep tick with an error exited %d, want 1", code)
			}
			if tt.json {
				var sum sweep.Summary
				if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Errors != 1 {
					t.Errorf("sweep tick --json = %s (%v), want the summary with errors 1", out, err)
				}
			} else if !strings.Contains(out, "errors 1") || !strings.Contains(out, "failed") {
				t.Errorf("stdout lacks the summary and the failed account:\n%s", out)
			}
			if !strings.Contains(errOut, "tick: 1 error") || !strings.Contains(errOut, "stint audit") {
				t.Errorf("stderr = %q, want the count of errors and where to look", errOut)
			}
		})
	}
}

// --json prints an empty list as [], never null: scripts iterate over it.
func TestJSONListsAreNeverNull(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	t.Setenv("STINT_WEBHOOK_SECRET", webhookSecret)
	data := seed(t, nil)
	tests := []struct {
		name string
		args []string
		// field is the list's member in an object; "" for a bare list.
		field string
	}{
		{"access", []string{"access"}, ""},
		{"audit", []string{"audit"}, ""},
		{"dlq list", []string{"dlq", "list"}, ""},
		{"sweep tick", []string{"sweep", "tick", "--sandbox"}, "accounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, append(tt.args, "--json", "--data", data)...)
			if code != 0 {
				t.Fatalf("exited %d: %s", code, errOut)
			}
			got := strings.TrimSpace(out)
			if tt.field != "" {
				var obj map[string]json.RawMessage
				if err := json.Unmarshal([]byte(out), &obj); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				got = string(obj[tt.field])
			}
			if got != "[]" {
				t.Errorf("stint %s --json = %s, want []", strings.Join(tt.args, " "), got)
			}
		})
	}
}

// stint dlq replay and drop say in JSON what they did, with the event and
// contractor of the dead letter.
func TestDLQReplayAndDropAnswerInJSON(t *testing.T) {
	data := seed(t, func(ctx context.Context, _ *sqlite.Ledger, q *embedded.Queue) {
		for _, id := range []string{"ev-1", "ev-2"} {
			if err := q.DeadLetter(ctx, engagement.Message{ID: id, Group: "ana@partner.example", Body: []byte("{}")}, errors.New("access key x is not configured")); err != nil {
				t.Fatal(err)
			}
		}
	})
	tests := []struct {
		verb, seq string
		want      cli.DLQAction
	}{
		{"replay", "1", cli.DLQAction{Action: "replayed", Seq: 1, Event: "ev-1", Contractor: "ana@partner.example"}},
		{"drop", "2", cli.DLQAction{Action: "dropped", Seq: 2, Event: "ev-2", Contractor: "ana@partner.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.verb, func(t *testing.T) {
			code, out, errOut := run(t, "dlq", tt.verb, tt.seq, "--json", "--data", data)
			var got cli.DLQAction
			if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got != tt.want {
				t.Errorf("dlq %s %s --json = %d %q %s, want %+v", tt.verb, tt.seq, code, out, errOut, tt.want)
			}
		})
	}
	code, out, _ := run(t, "dlq", "list", "--json", "--data", data)
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("dlq list after replay and drop = %d %s, want []", code, out)
	}
}
