package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra/entratest"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/worker"
)

// env is one test's world: a sandbox tenant over TLS, the real Graph
// adapter, a SQLite ledger, and the handler under test.
type env struct {
	tenant  *sandbox.Tenant
	ledger  *sqlite.Ledger
	handler *worker.Handler
	groups  map[string]string // access key -> group id
	now     time.Time
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	tenant, dir := entratest.Start(tb, entratest.Options{})
	l, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "stint.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	groups := map[string]string{}
	for _, key := range []string{"contractor-access", "github-org", "finance-apps"} {
		groups[key] = tenant.AddGroup(sandbox.Group{DisplayName: key, SecurityEnabled: true}).ID
	}
	e := &env{tenant: tenant, ledger: l, groups: groups, now: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	e.handler = &worker.Handler{
		Ledger: l, Directory: dir, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: func() time.Time { return e.now },
		Settings: worker.Settings{
			Groups:      groups,
			Options:     engagement.Options{DefaultAccess: []string{"contractor-access"}, Allowed: []string{"contractor-access", "finance-apps", "github-org"}},
			RedirectURL: "https://myapps.microsoft.com",
		},
	}
	return e
}

func (e *env) day(n float64) time.Time { return e.now.Add(time.Duration(n * 24 * float64(time.Hour))) }

// ev builds an event for ana@partner.example.
func (e *env) ev(id string, typ event.Type, at time.Time, eng string, change func(d *event.Data)) event.Event {
	ev := event.Event{SpecVersion: "1.0", ID: id, Source: "hr/test", Type: typ, Time: at, Subject: eng,
		Data: event.Data{EngagementID: eng, Contractor: event.Contractor{Email: "Ana@Partner.example", DisplayName: "Ana Lima"}}}
	if change != nil {
		change(&ev.Data)
	}
	return ev
}

func (e *env) started(id string, at, start, end time.Time, access ...string) event.Event {
	return e.ev(id, event.Started, at, "ENG-1", func(d *event.Data) { d.StartsAt, d.EndsAt, d.Access = &start, &end, access })
}

// handle applies ev and returns the Graph requests it made.
func (e *env) handle(tb testing.TB, ev event.Event) (worker.Result, []string) {
	tb.Helper()
	before := len(e.tenant.GraphRequests())
	res, err := e.handler.HandleEvent(context.Background(), ev)
	if err != nil {
		tb.Fatalf("HandleEvent(%s): %v", ev.ID, err)
	}
	var calls []string
	for _, r := range e.tenant.GraphRequests()[before:] {
		calls = append(calls, fmt.Sprintf("%s %s %d", r.Method, shortPath(r.Path), r.Status))
	}
	return res, calls
}

func shortPath(p string) string {
	parts := strings.Split(strings.TrimPrefix(p, "/v1.0"), "/")
	for i, s := range parts {
		if len(s) == 36 && strings.Count(s, "-") == 4 {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}

func wantCalls(tb testing.TB, got []string, want ...string) {
	tb.Helper()
	if !slices.Equal(got, want) {
		tb.Errorf("Graph requests =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func (e *env) ana(tb testing.TB) sandbox.User {
	tb.Helper()
	u, ok := e.tenant.UserByMail("ana@partner.example")
	if !ok {
		tb.Fatal("ana is not in the tenant")
	}
	return u
}

func (e *env) memberOf(uid string) []string {
	var keys []string
	for key, gid := range e.groups {
		if slices.Contains(e.tenant.Members(gid), uid) {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys
}

func TestLifecycleOfANewGuest(t *testing.T) {
	e := newEnv(t)
	start := e.started("ev-1", e.day(-1), e.day(-1), e.day(90), "contractor-access", "github-org")

	res, calls := e.handle(t, start)
	wantCalls(t, calls, "GET /users 200", "POST /invitations 201",
		"POST /groups/{id}/members/$ref 204", "POST /groups/{id}/members/$ref 204")
	if res.Outcome != engagement.Applied || len(res.Writes) != 3 {
		t.Errorf("result = %+v, want applied with 3 Graph writes logged", res)
	}
	ana := e.ana(t)
	if !ana.AccountEnabled || ana.UserType != "Guest" {
		t.Errorf("ana = %+v, want an enabled guest", ana)
	}
	if got := e.memberOf(ana.ID); !slices.Equal(got, []string{"contractor-access", "github-org"}) {
		t.Errorf("ana is in %v, want contractor-access and github-org", got)
	}

	_, calls = e.handle(t, start)
	wantCalls(t, calls) // a duplicate: nothing
	if n := len(e.tenant.Invitations()); n != 1 {
		t.Errorf("%d invitations, want 1", n)
	}

	ext := e.ev("ev-2", event.Extended, e.day(0), "ENG-1", func(d *event.Data) { end := e.day(120); d.EndsAt = &end })
	_, calls = e.handle(t, ext)
	wantCalls(t, calls) // an extension is a ledger change only
	rec, _ := e.ledger.Engagement(context.Background(), "ENG-1")
	if !rec.EndsAt.Equal(e.day(120)) {
		t.Errorf("EndsAt = %v, want day 120", rec.EndsAt)
	}

	e.now = e.day(0.5)
	end := e.ev("ev-3", event.Ended, e.now, "ENG-1", nil)
	_, calls = e.handle(t, end)
	// Two access keys: one $batch removes both and reads the account; then
	// the block.
	wantCalls(t, calls, "POST /$batch 200", "PATCH /users/{id} 204")
	ana = e.ana(t)
	if ana.AccountEnabled || len(e.memberOf(ana.ID)) != 0 {
		t.Errorf("after the end: enabled=%v, groups %v; want blocked, in no group", ana.AccountEnabled, e.memberOf(ana.ID))
	}
	c, _ := e.ledger.Contractor(context.Background(), "ana@partner.example")
	if !c.Blocked || !c.DisabledByStint || len(c.Granted) != 0 {
		t.Errorf("contractor record = %+v, want blocked by stint with nothing granted", c)
	}
	trail, _ := e.ledger.Audit(context.Background(), engagement.AuditQuery{Contractor: "ana@partner.example"})
	var actions []engagement.Action
	for _, a := range trail {
		actions = append(actions, a.Action)
	}
	for _, want := range []engagement.Action{engagement.EventApplied, engagement.UserInvited, engagement.GroupAdded, engagement.EventDuplicate, engagement.GroupRemoved, engagement.AccountDisabled} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit trail %v lacks %s", actions, want)
		}
	}
}

func TestFloorsOfGraphCalls(t *testing.T) {
	e := newEnv(t)
	e.tenant.AddUser(sandbox.User{DisplayName: "Ana Lima", Mail: "ana@partner.example", UserType: "Guest", AccountEnabled: true, ExternalUserState: "Accepted"})
	_, calls := e.handle(t, e.started("s", e.day(-1), e.day(-1), e.day(90)))
	wantCalls(t, calls, "GET /users 200", "POST /groups/{id}/members/$ref 204") // existing user: 2
	e.now = e.day(1)
	_, calls = e.handle(t, e.ev("x", event.Ended, e.now, "ENG-1", nil))
	wantCalls(t, calls, "POST /$batch 200", "PATCH /users/{id} 204") // guest, one group: 2 (remove and read; block)
}

func TestMemberAccountsAreRevokedNotDisabled(t *testing.T) {
	e := newEnv(t)
	member := e.tenant.AddUser(sandbox.User{DisplayName: "Ana Lima", Mail: "ana@partner.example", UserType: "Member", AccountEnabled: true})
	e.handle(t, e.started("s", e.day(-1), e.day(-1), e.day(90)))
	e.now = e.day(1)
	_, calls := e.handle(t, e.ev("x", event.Ended, e.now, "ENG-1", nil))
	wantCalls(t, calls, "POST /$batch 200", "POST /users/{id}/revokeSignInSessions 200")
	u, _ := e.tenant.User(member.ID)
	if !u.AccountEnabled || u.SessionsRevokedAt.IsZero() {
		t.Errorf("member = enabled %v, revoked at %v; want enabled with sessions revoked", u.AccountEnabled, u.SessionsRevokedAt)
	}
}

func TestReEnablesOnlyWhatStintDisabled(t *testing.T) {
	for _, adminBlocked := range []bool{false, true} {
		t.Run(fmt.Sprintf("admin blocked first: %v", adminBlocked), func(t *testing.T) {
			e := newEnv(t)
			e.handle(t, e.started("s1", e.day(-10), e.day(-10), e.day(90)))
			ana := e.ana(t)
			if adminBlocked {
				if err := e.tenant.SetAccountEnabled(ana.ID, false); err != nil {
					t.Fatal(err)
				}
			}
			base := e.now
			e.now = base.Add(-5 * 24 * time.Hour)
			e.handle(t, e.ev("e1", event.Ended, e.now, "ENG-1", nil))
			e.now = base
			second := e.ev("s2", event.Started, e.day(-1), "ENG-2", func(d *event.Data) { s, end := e.day(-1), e.day(60); d.StartsAt, d.EndsAt = &s, &end })
			e.handle(t, second)
			ana = e.ana(t)
			if ana.AccountEnabled == adminBlocked {
				t.Errorf("after a new engagement: enabled = %v; stint must re-enable only an account it disabled itself", ana.AccountEnabled)
			}
			if got := e.memberOf(ana.ID); !slices.Equal(got, []string{"contractor-access"}) {
				t.Errorf("groups = %v, want contractor-access", got)
			}
		})
	}
}

func TestEndingOneOfTwoOverlappingEngagementsKeepsTheOthersGroups(t *testing.T) {
	e := newEnv(t)
	e.handle(t, e.started("a", e.day(-30), e.day(-30), e.day(30), "contractor-access", "finance-apps"))
	e.handle(t, e.ev("b", event.Started, e.day(-20), "ENG-2", func(d *event.Data) {
		s, end := e.day(-20), e.day(60)
		d.StartsAt, d.EndsAt, d.Access = &s, &end, []string{"contractor-access", "github-org"}
	}))
	_, calls := e.handle(t, e.ev("a-end", event.Ended, e.day(0), "ENG-1", nil))
	wantCalls(t, calls, "DELETE /groups/{id}/members/{id}/$ref 204")
	ana := e.ana(t)
	if got := e.memberOf(ana.ID); !slices.Equal(got, []string{"contractor-access", "github-org"}) || !ana.AccountEnabled {
		t.Errorf("groups %v, enabled %v; want ENG-2's contractor-access and github-org, still enabled", got, ana.AccountEnabled)
	}
}

func TestFutureStartInvitesNowAndGrantsNothingYet(t *testing.T) {
	e := newEnv(t)
	_, calls := e.handle(t, e.started("s", e.day(0), e.day(7), e.day(90)))
	wantCalls(t, calls, "GET /users 200", "POST /invitations 201")
	rec, _ := e.ledger.Engagement(context.Background(), "ENG-1")
	if rec.State != engagement.Pending || !rec.DueAt().Equal(e.day(7)) {
		t.Errorf("record state %s due %v, want pending, due at the start", rec.State, rec.DueAt())
	}
	if got := e.memberOf(e.ana(t).ID); len(got) != 0 {
		t.Errorf("groups before the start = %v, want none", got)
	}
}

func TestRefusedEvents(t *testing.T) {
	e := newEnv(t)
	_, err := e.handler.HandleEvent(context.Background(), e.started("s", e.day(0), e.day(0), e.day(9), "prod-admin"))
	if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), `"prod-admin" is not configured`) {
		t.Errorf("unknown access key: %v, want invalid", err)
	}
	if len(e.tenant.Invitations()) != 0 {
		t.Error("a refused event reached Entra")
	}
	trail, _ := e.ledger.Audit(context.Background(), engagement.AuditQuery{})
	if len(trail) != 1 || trail[0].Action != engagement.EventRefused || trail[0].EventID != "s" {
		t.Errorf("audit = %+v, want one event.refused for s", trail)
	}
}

func TestTransientFailureThenRedeliveryAppliesOnce(t *testing.T) {
	e := newEnv(t)
	e.tenant.Inject(sandbox.Fault{Path: "/groups/", Status: 503, Times: 10})
	ev := e.started("s", e.day(0), e.day(0), e.day(90))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := e.handler.HandleEvent(ctx, ev)
	if !fault.Is(err, fault.Transient) {
		t.Fatalf("HandleEvent under 503s = %v, want transient", err)
	}
	e.tenant.ClearFaults()
	if _, err := e.handler.HandleEvent(context.Background(), ev); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if n := len(e.tenant.Invitations()); n != 1 {
		t.Errorf("%d invitations, want exactly 1", n)
	}
	if got := e.memberOf(e.ana(t).ID); !slices.Equal(got, []string{"contractor-access"}) {
		t.Errorf("groups = %v, want contractor-access", got)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// An account is re-enabled only once its groups are in place: if adding
// fails, it stays blocked, and stint's record says so.
func TestReEnableComesAfterTheGroups(t *testing.T) {
	e := newEnv(t)
	e.handle(t, e.started("s1", e.day(-10), e.day(-10), e.day(90)))
	base := e.now
	e.now = base.Add(-5 * 24 * time.Hour)
	e.handle(t, e.ev("e1", event.Ended, e.now, "ENG-1", nil))
	e.now = base
	e.tenant.Inject(sandbox.Fault{Method: "POST", Path: "/groups/", Status: 403})
	second := e.ev("s2", event.Started, e.day(-1), "ENG-2", func(d *event.Data) { s, end := e.day(-1), e.day(60); d.StartsAt, d.EndsAt = &s, &end })
	if _, err := e.handler.HandleEvent(context.Background(), second); !fault.Is(err, fault.Unauthorized) {
		t.Fatalf("HandleEvent with adds refused = %v, want unauthorized", err)
	}
	if ana := e.ana(t); ana.AccountEnabled {
		t.Error("the account was re-enabled though it got no group")
	}
	c, _ := e.ledger.Contractor(context.Background(), "ana@partner.example")
	if !c.Blocked || !c.DisabledByStint {
		t.Errorf("contractor record %+v: want still blocked by stint", c)
	}
	e.tenant.ClearFaults()
	if _, err := e.handler.HandleEvent(context.Background(), second); err != nil {
		t.Fatalf("the same event again, Graph willing: %v", err)
	}
	if ana := e.ana(t); !ana.AccountEnabled || !slices.Equal(e.memberOf(ana.ID), []string{"contractor-access"}) {
		t.Errorf("after the retry: enabled %v, groups %v", ana.AccountEnabled, e.memberOf(ana.ID))
	}
}

// An account deleted behind stint's back is looked up (and invited) afresh
// at once, rather than failing forever on its old id.
func TestDeletedAccountIsLookedUpAgain(t *testing.T) {
	e := newEnv(t)
	e.handle(t, e.started("s1", e.day(-1), e.day(-1), e.day(30)))
	if err := e.tenant.DeleteUser(e.ana(t).ID); err != nil { // an administrator deletes it
		t.Fatal(err)
	}
	second := e.ev("s2", event.Started, e.day(0), "ENG-2", func(d *event.Data) {
		s, end := e.day(0), e.day(60)
		d.StartsAt, d.EndsAt, d.Access = &s, &end, []string{"github-org"}
	})
	if _, err := e.handler.HandleEvent(context.Background(), second); err != nil {
		t.Fatalf("with the account deleted: %v, want the person invited afresh", err)
	}
	c, _ := e.ledger.Contractor(context.Background(), "ana@partner.example")
	if c.UserID != e.ana(t).ID || !slices.Equal(e.memberOf(c.UserID), []string{"contractor-access", "github-org"}) {
		t.Errorf("contractor %+v in %v, want a new account holding both engagements' groups", c, e.memberOf(c.UserID))
	}
	if n := len(e.tenant.Invitations()); n != 2 {
		t.Errorf("%d invitations, want 2: the first account, and the new one", n)
	}
}

// A member account deleted between the read that ends its access and the
// revocation of its sessions has nothing left to revoke: the end applies,
// and is not dead-lettered for a 404.
func TestMemberDeletedWhileItsAccessEnds(t *testing.T) {
	e := newEnv(t)
	member := e.tenant.AddUser(sandbox.User{DisplayName: "Ana Lima", Mail: "ana@partner.example", UserType: "Member", AccountEnabled: true})
	e.handle(t, e.started("s", e.day(-1), e.day(-1), e.day(90)))
	e.tenant.Inject(sandbox.Fault{Method: "POST", Path: "/users/" + member.ID + "/revokeSignInSessions", Status: 404})
	e.now = e.day(1)
	if _, err := e.handler.HandleEvent(context.Background(), e.ev("x", event.Ended, e.now, "ENG-1", nil)); err != nil {
		t.Fatalf("the end of a member deleted meanwhile: %v, want it applied", err)
	}
	c, _ := e.ledger.Contractor(context.Background(), "ana@partner.example")
	if c.UserID != "" || !c.Blocked {
		t.Errorf("contractor %+v: want the account forgotten, access ended", c)
	}
}

// A sponsor the event names who has an account in the tenant becomes the
// guest's sponsor in Entra, through the invitation; one who has none (or
// is a guest) is not looked for further: the guest is invited without.
func TestTheEventsSponsorBecomesTheGuestsSponsorInEntra(t *testing.T) {
	e := newEnv(t)
	bob := e.tenant.AddUser(sandbox.User{DisplayName: "Bob", Mail: "bob@corp.example", UserType: "Member", AccountEnabled: true})
	start := e.ev("ev-1", event.Started, e.day(-1), "ENG-1", func(d *event.Data) {
		end := e.day(30)
		d.EndsAt, d.Sponsor = &end, &event.Sponsor{Email: "Bob@corp.example"}
	})
	_, calls := e.handle(t, start)
	wantCalls(t, calls, "GET /users 200", "GET /users 200", "POST /invitations 201", "POST /groups/{id}/members/$ref 204")
	if got := e.ana(t).Sponsors; !slices.Equal(got, []string{bob.ID}) {
		t.Errorf("Ana's sponsors in Entra = %v, want Bob %s", got, bob.ID)
	}

	other := e.ev("ev-2", event.Started, e.day(-1), "ENG-2", func(d *event.Data) {
		end := e.day(30)
		d.Contractor = event.Contractor{Email: "cy@partner.example"}
		d.EndsAt, d.Sponsor = &end, &event.Sponsor{Email: "nobody@corp.example"}
	})
	if _, calls := e.handle(t, other); !slices.Contains(calls, "POST /invitations 201") {
		t.Fatalf("Cy was not invited: %v", calls)
	}
	cy, _ := e.tenant.UserByMail("cy@partner.example")
	if got := cy.Sponsors; len(got) != 0 {
		t.Errorf("Cy's sponsors = %v, want none (the sponsor has no account)", got)
	}
}
