package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/cli"
	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/ledger/ledgertest"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/queue/embedded"
	"github.com/stintdev/stint/pkg/sandbox"
)

// accessLedger holds one contractor per situation stint access must tell
// apart, and returns its data directory.
func accessLedger(tb testing.TB, now time.Time) string {
	tb.Helper()
	day := 24 * time.Hour
	eng := func(id, who string, state engagement.Status, from, until time.Duration, access ...string) engagement.Engagement {
		return engagement.Engagement{ID: id, Contractor: who, Email: who, Sponsor: "owner@corp.example", Access: access,
			StartsAt: now.Add(from), EndsAt: now.Add(until), Started: true, State: state}
	}
	return seed(tb, func(ctx context.Context, l *sqlite.Ledger, _ *embedded.Queue) {
		contractors := []engagement.Contractor{
			{Key: "ana@x.example", UserID: "u-ana", Guest: true, Granted: []string{"contractor-access"}},
			// Bo's engagement grants contractor-access alone; stint granted
			// him github-org too (an earlier engagement): the record says
			// what he holds.
			{Key: "bo@x.example", UserID: "u-bo", Guest: true, Granted: []string{"contractor-access", "github-org"}},
			{Key: "cy@x.example"},
			{Key: "dee@x.example", UserID: "u-dee", Guest: true, Blocked: true, DisabledByStint: true},
			// Eve's sign-in was already blocked when stint came to block
			// it: an administrator's doing, which stint never undoes.
			{Key: "eve@x.example", UserID: "u-eve", Guest: true, Blocked: true},
			{Key: "fay@x.example", UserID: "u-fay", Guest: true, Blocked: true, DisabledByStint: true},
			{Key: "gus@x.example", UserID: "u-gus", Guest: false, Blocked: true},
		}
		engs := []engagement.Engagement{
			eng("ENG-A", "ana@x.example", engagement.Active, -day, 90*day, "contractor-access"),
			// Ended by its dates a moment ago; the tick has not removed him.
			eng("ENG-B", "bo@x.example", engagement.Active, -day, -time.Second, "contractor-access"),
			eng("ENG-C", "cy@x.example", engagement.Pending, day, 90*day, "contractor-access"),
			// Applied as ended: not listed.
			eng("ENG-D", "dee@x.example", engagement.Ended, -90*day, -day, "contractor-access"),
			// Active by its dates; the tick has not granted it yet.
			eng("ENG-E", "eve@x.example", engagement.Pending, -time.Second, 90*day, "contractor-access"),
			// Extended after it ended; the extension is not applied yet.
			eng("ENG-F", "fay@x.example", engagement.Ended, -90*day, 30*day, "contractor-access"),
			// Scheduled, never became active; not recorded ended yet.
			eng("ENG-G", "gus@x.example", engagement.Pending, -2*day, -day, "contractor-access"),
		}
		for i, c := range contractors {
			ch := engagement.Change{Contractor: c, Engagements: []engagement.Engagement{engs[i]}}
			if _, _, err := l.Commit(ctx, ch); err != nil {
				tb.Fatal(err)
			}
		}
	})
}

// stint access shows what stint has applied, not what the dates say: an
// engagement ended by its dates whose groups are still held is listed as
// "ending: removal pending", and the account and groups come from the
// contractor record.
func TestAccessShowsTheAppliedState(t *testing.T) {
	now := time.Now()
	data := accessLedger(t, now)
	l, err := sqlite.Open(context.Background(), data+"/stint.db")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rows, err := cli.Access(context.Background(), l, now)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		engagement, status string
		state, dates       engagement.Status
		account            string
		groups             []string
	}
	wants := []want{
		{"ENG-A", "active", engagement.Active, engagement.Active, "not blocked by stint", []string{"contractor-access"}},
		{"ENG-B", "ending: removal pending", engagement.Active, engagement.Ended, "not blocked by stint", []string{"contractor-access", "github-org"}},
		{"ENG-C", "pending", engagement.Pending, engagement.Pending, "no account yet", []string{}},
		{"ENG-E", "starting: grant pending", engagement.Pending, engagement.Active, "blocked, not by stint (stint will not re-enable it)", []string{}},
		{"ENG-F", "starting: grant pending", engagement.Ended, engagement.Active, "blocked by stint", []string{}},
		{"ENG-G", "ending: not yet recorded", engagement.Pending, engagement.Ended, "sessions revoked (member, left enabled)", []string{}},
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.Engagement)
	}
	if len(rows) != len(wants) {
		t.Fatalf("listed %v, want %d rows (every engagement not applied as ended)", got, len(wants))
	}
	for i, w := range wants {
		r := rows[i]
		t.Run(w.engagement, func(t *testing.T) {
			if r.Engagement != w.engagement || r.Status != w.status || r.State != w.state || r.Dates != w.dates || r.Account != w.account || !slices.Equal(r.Groups, w.groups) {
				t.Errorf("row = %+v\nwant %+v", r, w)
			}
			if r.Entra != nil {
				t.Errorf("Entra = %+v, want nil: stint access does not read Entra", r.Entra)
			}
		})
	}

	code, out, errOut := run(t, "access", "--data", data)
	if code != 0 {
		t.Fatalf("access exited %d: %s", code, errOut)
	}
	for _, line := range []string{"bo@x.example", "ENG-B", "ending: removal pending", "contractor-access,github-org", "blocked by stint"} {
		if !strings.Contains(out, line) {
			t.Errorf("stint access lacks %q:\n%s", line, out)
		}
	}
	code, out, _ = run(t, "access", "--json", "--data", data)
	var fields []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &fields) != nil || len(fields) != len(wants) {
		t.Fatalf("access --json = %d %s", code, out)
	}
	for _, f := range []string{"contractor", "engagement", "status", "from", "until", "sponsor", "groups", "state", "dates", "access", "account", "userId", "guest"} {
		if _, ok := fields[1][f]; !ok {
			t.Errorf("access --json lacks the field %q: %v", f, fields[1])
		}
	}
}

// stint access reads the accounts as Entra holds them — a sign-in an
// administrator blocked shows — directly, or through the stint serve that
// owns the data directory.
func TestAccessShowsEntrasAccounts(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	t.Setenv("STINT_WEBHOOK_SECRET", webhookSecret)
	ctx := context.Background()
	data := t.TempDir()
	cfg, err := config.Load(config.Stint, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.Open(ctx, host.Options{Config: cfg, Sandbox: true, Data: data, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	u := h.Sandbox.AddUser(sandbox.User{Mail: "ana@x.example", UserType: "Guest", AccountEnabled: true})
	h.Sandbox.AddMember(h.Groups["contractor-access"], u.ID)
	h.Sandbox.SetAccountEnabled(u.ID, false) // an administrator blocks her
	if err := h.Sandbox.Persist(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ledgertest.Put(t, h.Ledger, engagement.Engagement{ID: "ENG-A", Contractor: "ana@x.example", Email: "ana@x.example",
		Access: []string{"contractor-access"}, StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Hour), Started: true, State: engagement.Active})
	c, _ := h.Ledger.Contractor(ctx, "ana@x.example")
	c.UserID, c.Guest, c.Granted = u.ID, true, []string{"contractor-access"}
	if _, _, err := h.Ledger.Commit(ctx, engagement.Change{Contractor: c}); err != nil {
		t.Fatal(err)
	}
	check := func(how string) {
		t.Helper()
		code, out, errOut := run(t, "access", "--data", data)
		if code != 0 || !strings.Contains(out, "sign-in BLOCKED; in contractor-access") {
			t.Errorf("%s: stint access = %d\n%s%s\nwant Ana's sign-in shown blocked", how, code, out, errOut)
		}
	}
	stop := serving(t, h, data)
	check("through the running serve")
	stop()
	check("directly")
}
