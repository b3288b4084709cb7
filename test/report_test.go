// End to end for auditors and sponsors: a tenant of 50 contractors, the
// reconcile's oversight (sign-ins, dormant, signed in after the end),
// notifications to a receiver that checks their signatures, and the
// access report in its three formats.
package test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/report"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/webhook"
)

const notifySecret = "whsec_bm90aWZpY2F0aW9ucyBzaWduaW5nIHNlY3JldA=="

// receiver counts the notifications it is sent, by type and by id, after
// checking each one's Standard Webhooks signature.
type receiver struct {
	mu     sync.Mutex
	byType map[string]int
	byID   map[string]int
	bad    int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	v, _ := webhook.ParseSecrets(notifySecret)
	var ce struct{ ID, Type string }
	r.mu.Lock()
	defer r.mu.Unlock()
	if v.Verify(body, req.Header) != nil || json.Unmarshal(body, &ce) != nil || ce.ID != req.Header.Get("webhook-id") {
		r.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	r.byType[ce.Type]++
	r.byID[ce.ID]++
}

func (r *receiver) counts() (map[string]int, map[string]int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.byType), maps.Clone(r.byID), r.bad
}

// The tenant's 50 contractors, by what the report must say of them.
func expectedFlags(i int) []string {
	switch {
	case i == 5:
		return []string{"drift"} // removed from the group by hand, after the reconcile
	case i >= 30 && i <= 33:
		return []string{"ending-soon"}
	case i >= 34 && i <= 36:
		return []string{"dormant"}
	case i >= 37 && i <= 40:
		return []string{"unredeemed"} // invited by stint, never redeemed
	case i == 41:
		return []string{"signed-in-after-end"}
	case i >= 46:
		return []string{"not-covered"} // github-org: no Conditional Access policy
	}
	return []string{}
}

func TestAccessReportRemindersAndSignInsAfterTheEnd(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	app := sandbox.App{ClientID: clientID, Secret: secret, Permissions: append(slices.Clone(permissions), "AuditLog.Read.All", "Policy.Read.All")}
	tenant := serveTenantFor(t, sandbox.Options{TenantID: tenantID}, app, "AZURE_CLIENT_SECRET="+secret)
	github := tenant.AddGroup(sandbox.Group{DisplayName: "github-org", SecurityEnabled: true})
	if _, err := tenant.AddPolicy(sandbox.Policy{DisplayName: "contractors need MFA", State: sandbox.PolicyEnabled,
		Conditions:    &sandbox.PolicyConditions{Users: &sandbox.PolicyUsers{IncludeGroups: []string{tenant.group}}, Applications: &sandbox.PolicyApplications{IncludeApplications: []string{"All"}}, ClientAppTypes: []string{"all"}},
		GrantControls: &sandbox.GrantControls{Operator: "OR", BuiltInControls: []string{"mfa"}}}); err != nil {
		t.Fatal(err)
	}
	rcv := &receiver{byType: map[string]int{}, byID: map[string]int{}}
	hooks := httptest.NewServer(rcv)
	defer hooks.Close()
	env := append(slices.Clone(tenant.env), "STINT_GROUPS=contractor-access="+tenant.group+",github-org="+github.ID,
		"STINT_NOTIFY_URL="+hooks.URL+"/stint", "STINT_NOTIFY_SECRET="+notifySecret)

	email := func(i int) string { return fmt.Sprintf("c%02d@vendor.example", i) }
	var bodies [][]byte
	for i := range 50 {
		if i < 37 || i > 40 { // the others exist already, as redeemed guests
			u := tenant.AddUser(sandbox.User{DisplayName: fmt.Sprintf("C%02d", i), Mail: email(i), UserType: "Guest", AccountEnabled: true})
			lastIn := now.Add(-2 * day)
			switch {
			case i >= 34 && i <= 36:
				lastIn = now.Add(-40 * day)
			case i >= 41 && i <= 45:
				lastIn = now.Add(-3 * day) // before their end
			}
			if _, err := tenant.SignIn(u.ID, sandbox.SignIn{At: lastIn, Success: true, Interactive: true}); err != nil {
				t.Fatal(err)
			}
		}
		start, end, access := now.Add(-60*day), now.Add(90*day), []string{"contractor-access"}
		switch {
		case i >= 30 && i <= 33:
			end = now.Add(5 * day)
		case i >= 37 && i <= 40:
			start = now.Add(-day)
		case i >= 46:
			access = append(access, "github-org")
		}
		eng := fmt.Sprintf("ENG-%02d", i)
		bodies = append(bodies, evt(fmt.Sprintf("s-%02d", i), "started", eng, email(i), now.Add(-time.Hour),
			map[string]any{"startsAt": ts(start), "endsAt": ts(end), "access": access, "sponsor": map[string]any{"email": "boss@corp.example"}}))
		if i >= 41 && i <= 45 {
			bodies = append(bodies, evt(fmt.Sprintf("e-%02d", i), "ended", eng, email(i), now.Add(-time.Minute), map[string]any{"endsAt": ts(now.Add(-2 * day))}))
		}
	}

	data, addr := filepath.Join(t.TempDir(), "data"), freeAddr(t)
	serve := startServe(t, data, addr, append(env, "--tick=1h")...)
	<-sendAll(webhookSecret, bodies, func() string { return addr })
	waitFor(t, time.Minute, "every event applied:\n"+serve.out.String(), func() bool {
		out, _ := stint(t, env, "audit", "--data", data, "--json")
		return strings.Count(out, `"event.applied"`) == len(bodies)
	})
	serve.cmd.Process.Signal(syscall.SIGTERM)
	serve.cmd.Wait()

	// After stint took their access away: c41 signs in successfully
	// (somehow), c42 is refused; c43 had signed in between the end and
	// the removal (stint learned of the end late), which is no finding.
	c41, _ := tenant.UserByMail(email(41))
	c42, _ := tenant.UserByMail(email(42))
	c43, _ := tenant.UserByMail(email(43))
	tenant.SignIn(c41.ID, sandbox.SignIn{At: time.Now(), Success: true, Interactive: true, App: "Microsoft Teams"})
	tenant.SignIn(c42.ID, sandbox.SignIn{At: time.Now(), Success: false, Interactive: true})
	tenant.SignIn(c43.ID, sandbox.SignIn{At: now.Add(-day), Success: true, Interactive: true})
	// Two accounts an admin put in the group by hand: ghosts.
	var ghosts []string
	for _, mail := range []string{"eve@old-vendor.example", "zed@old-vendor.example"} {
		g := tenant.AddUser(sandbox.User{DisplayName: mail, Mail: mail, UserType: "Guest", AccountEnabled: true})
		tenant.AddMember(tenant.group, g.ID)
		ghosts = append(ghosts, g.ID)
	}

	// Two reconciles, each in a process of its own (a restart between),
	// each followed by a tick that sends what they found.
	for range 2 {
		for _, mode := range []string{"reconcile", "tick"} {
			if out, err := stint(t, env, "sweep", mode, "--data", data); err != nil {
				t.Fatalf("stint sweep %s: %v\n%s", mode, err, out)
			}
		}
	}
	byType, byID, bad := rcv.counts()
	want := map[string]int{"dev.stint.engagement.reminder": 4, "dev.stint.engagement.ended": 5, "dev.stint.contractor.dormant": 3,
		"dev.stint.signin.after_end": 1, "dev.stint.ghost.found": 2}
	if !maps.Equal(byType, want) || bad != 0 {
		t.Errorf("notifications by type %v (%d badly signed), want %v", byType, bad, want)
	}
	for id, n := range byID {
		if n != 1 {
			t.Errorf("notification %s delivered %d times, want once", id, n)
		}
	}
	out, _ := stint(t, env, "audit", "--data", data, "--json")
	if n := strings.Count(out, `"signin.after_end"`); n != 1 || !strings.Contains(out, email(41)) {
		t.Errorf("%d signin.after_end audit entries, want one, for %s", n, email(41))
	}

	// Drift, after the reconcile: c05 taken out of the group by hand.
	c05, _ := tenant.UserByMail(email(5))
	tenant.RemoveMember(tenant.group, c05.ID)

	want50 := map[string][]string{}
	for i := range 50 {
		u, _ := tenant.UserByMail(email(i))
		want50[u.ID] = expectedFlags(i)
	}
	for _, g := range ghosts {
		want50[g] = []string{"ghost"}
	}
	dir := t.TempDir()
	for _, format := range []string{"json", "csv", "html"} {
		path := filepath.Join(dir, "report."+format)
		if out, err := stint(t, env, "report", "--data", data, "--format", format, "--out", path); err != nil {
			t.Fatalf("stint report --format %s: %v\n%s", format, err, out)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got := flagsByUser(t, format, b)
		for id, w := range want50 {
			if g := got[id]; !slices.Equal(g, w) {
				t.Errorf("%s: user %s flags %v, want %v", format, id, g, w)
			}
		}
		if len(got) != len(want50) {
			t.Errorf("%s: %d rows, want %d", format, len(got), len(want50))
		}
	}
}

// flagsByUser reads each row's flags, by user id, from a report file.
func flagsByUser(t *testing.T, format string, b []byte) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	split := func(s string) []string {
		f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ';' || r == ',' })
		slices.Sort(f)
		return append([]string{}, f...)
	}
	switch format {
	case "json":
		var rep report.Report
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Rows {
			var fs []string
			for _, f := range r.Flags {
				fs = append(fs, string(f))
			}
			out[r.UserID] = split(strings.Join(fs, " "))
		}
	case "csv":
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := func(name string) int { return slices.Index(rows[0], name) }
		for _, r := range rows[1:] {
			out[r[col("user_id")]] = split(r[col("flags")])
		}
	case "html":
		for _, m := range regexp.MustCompile(`<tr data-flags="([^"]*)" data-user="([^"]*)"`).FindAllSubmatch(b, -1) {
			out[string(m[2])] = split(string(m[1]))
		}
	}
	return out
}
