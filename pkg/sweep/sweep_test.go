package sweep_test

import (
	"context"
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
	"github.com/stintdev/stint/pkg/ledger/ledgertest"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/sweep"
	"github.com/stintdev/stint/pkg/worker"
)

type env struct {
	tenant  *sandbox.Tenant
	ledger  *sqlite.Ledger
	worker  *worker.Handler
	sweeper *sweep.Sweeper
	groups  map[string]string
	now     time.Time
}

func newEnv(tb testing.TB, o entratest.Options) *env {
	tb.Helper()
	tenant, dir := entratest.Start(tb, o)
	l, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "stint.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	e := &env{tenant: tenant, ledger: l, groups: map[string]string{}, now: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	for _, key := range []string{"contractor-access", "github-org"} {
		e.groups[key] = tenant.AddGroup(sandbox.Group{DisplayName: key, SecurityEnabled: true}).ID
	}
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	clock := func() time.Time { return e.now }
	e.worker = &worker.Handler{Ledger: l, Directory: dir, Log: quiet, Now: clock, Settings: worker.Settings{
		Groups:      e.groups,
		Options:     engagement.Options{DefaultAccess: []string{"contractor-access"}, Allowed: []string{"contractor-access", "github-org"}},
		RedirectURL: "https://myapps.microsoft.com",
	}}
	e.sweeper = &sweep.Sweeper{Ledger: l, Directory: dir, Worker: e.worker, Groups: e.groups,
		GhostGrace: 24 * time.Hour, UnredeemedAfter: 30 * 24 * time.Hour, Log: quiet, Now: clock}
	return e
}

func (e *env) at(days float64) time.Time {
	return time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC).Add(time.Duration(days * 24 * float64(time.Hour)))
}

// start applies a started event for email through the worker.
func (e *env) start(tb testing.TB, email string, from, to time.Time) {
	tb.Helper()
	id := strings.Split(email, "@")[0]
	ev := event.Event{SpecVersion: "1.0", ID: "s-" + id, Source: "hr/test", Type: event.Started, Time: e.now, Subject: "ENG-" + id,
		Data: event.Data{EngagementID: "ENG-" + id, Contractor: event.Contractor{Email: email}, StartsAt: &from, EndsAt: &to}}
	if _, err := e.worker.HandleEvent(context.Background(), ev); err != nil {
		tb.Fatal(err)
	}
}

func (e *env) run(tb testing.TB, mode string, dryRun bool) (sweep.Summary, []sandbox.Request) {
	tb.Helper()
	before := len(e.tenant.GraphRequests())
	sum, err := e.sweeper.Run(context.Background(), sweep.Input{Mode: mode, DryRun: dryRun})
	if err != nil {
		tb.Fatalf("%s: %v", mode, err)
	}
	return sum, e.tenant.GraphRequests()[before:]
}

func (e *env) member(tb testing.TB, email string) (sandbox.User, bool) {
	tb.Helper()
	u, ok := e.tenant.UserByMail(email)
	if !ok {
		tb.Fatalf("%s is not in the tenant", email)
	}
	return u, slices.Contains(e.tenant.Members(e.groups["contractor-access"]), u.ID)
}

func writes(reqs []sandbox.Request) int {
	n := 0
	for _, r := range reqs {
		if r.Method != "GET" {
			n++
		}
	}
	return n
}

func TestTickExpiresAnEndedEngagement(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	e.start(t, "ana@partner.example", e.at(-1), e.at(0.5))
	if _, in := e.member(t, "ana@partner.example"); !in {
		t.Fatal("not a member after the start")
	}
	e.now = e.at(0.5).Add(30 * time.Second) // the end passed half a minute ago
	sum, reqs := e.run(t, "tick", false)
	u, in := e.member(t, "ana@partner.example")
	if in || u.AccountEnabled {
		t.Errorf("after the tick: member %v, enabled %v; want removed and blocked", in, u.AccountEnabled)
	}
	if sum.Expired != 1 || sum.Removed != 1 || sum.Disabled != 1 || sum.Examined != 1 || writes(reqs) != 2 {
		t.Errorf("summary %+v with %d Graph writes; want 1 examined, expired, removed, disabled in 2 writes", sum, writes(reqs))
	}
	if rec, _ := e.ledger.Engagement(context.Background(), "ENG-ana"); rec.State != engagement.Ended {
		t.Errorf("record state = %s, want ended", rec.State)
	}
	trail, _ := e.ledger.Audit(context.Background(), engagement.AuditQuery{Contractor: "ana@partner.example"})
	for _, a := range trail {
		if strings.Contains(a.Detail, "user ,") || strings.Contains(a.Detail, "group :") || a.Detail == "" {
			t.Errorf("audit entry %s reads %q: an empty field is named", a.Action, a.Detail)
		}
	}
	if sum, reqs := e.run(t, "tick", false); sum.Examined != 0 || len(reqs) != 0 {
		t.Errorf("a second tick: %+v, %d requests; want nothing due", sum, len(reqs))
	}
}

func TestTickActivatesAFutureStart(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	e.start(t, "bo@vendor.example", e.at(2), e.at(30))
	if _, in := e.member(t, "bo@vendor.example"); in {
		t.Fatal("a member before the start")
	}
	e.now = e.at(1.99)
	if sum, reqs := e.run(t, "tick", false); sum.Examined != 0 || len(reqs) != 0 {
		t.Errorf("tick before the start: %+v, %d requests", sum, len(reqs))
	}
	e.now = e.at(2).Add(time.Second)
	sum, _ := e.run(t, "tick", false)
	if _, in := e.member(t, "bo@vendor.example"); !in || sum.Activated != 1 || sum.Added != 1 {
		t.Errorf("after the tick: member %v, summary %+v; want activated and added", in, sum)
	}
}

func TestTickCostsNothingForQuietEngagements(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	var quiet []engagement.Engagement
	for i := range 10_000 {
		quiet = append(quiet, engagement.Engagement{ID: fmt.Sprintf("Q-%05d", i), Contractor: fmt.Sprintf("q%d@quiet.example", i), Email: fmt.Sprintf("q%d@quiet.example", i),
			Access: []string{"contractor-access"}, StartsAt: e.at(-30), EndsAt: e.at(300), Started: true, State: engagement.Active})
	}
	ledgertest.Put(t, e.ledger, quiet...)
	for i := range 10 {
		e.start(t, fmt.Sprintf("due%d@vendor.example", i), e.at(-1), e.at(1))
	}
	e.now = e.at(1).Add(time.Minute)
	sum, reqs := e.run(t, "tick", false)
	if sum.Examined != 10 || sum.Expired != 10 {
		t.Errorf("summary %+v, want 10 examined and expired", sum)
	}
	// Each due contractor: one remove-and-read $batch, one block.
	if len(reqs) != 20 {
		t.Errorf("%d Graph requests, want 20 (2 for each of the 10 due, none for the 10,000 quiet)", len(reqs))
	}
}

func TestTickDryRunChangesNothing(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	e.start(t, "ana@partner.example", e.at(-1), e.at(0.5))
	e.now = e.at(1)
	sum, reqs := e.run(t, "tick", true)
	if writes(reqs) != 0 || sum.Expired != 1 || sum.Removed != 1 {
		t.Errorf("dry run: %+v with %d writes; want the expiry reported, nothing written", sum, writes(reqs))
	}
	if _, in := e.member(t, "ana@partner.example"); !in {
		t.Error("the dry run removed the member")
	}
	if rec, _ := e.ledger.Engagement(context.Background(), "ENG-ana"); rec.State != engagement.Active {
		t.Errorf("the dry run changed the record to %s", rec.State)
	}
}

func TestReconcile(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	cg := e.groups["contractor-access"]
	e.start(t, "legit@partner.example", e.at(-1), e.at(60))
	e.start(t, "drift@partner.example", e.at(-1), e.at(60))
	drift, _ := e.tenant.UserByMail("drift@partner.example")
	if err := e.tenant.RemoveMember(cg, drift.ID); err != nil { // removed by hand
		t.Fatal(err)
	}
	ghost := e.tenant.AddUser(sandbox.User{DisplayName: "Ghost", Mail: "ghost@old-vendor.example", UserType: "Guest", AccountEnabled: true, ExternalUserState: "Accepted"})
	if err := e.tenant.AddMember(cg, ghost.ID); err != nil { // added by hand
		t.Fatal(err)
	}
	stale := e.tenant.AddUser(sandbox.User{DisplayName: "Never redeemed", Mail: "late@partner.example", UserType: "Guest", AccountEnabled: true,
		ExternalUserState: "PendingAcceptance", CreatedDateTime: e.at(-45)})
	e.start(t, "late@partner.example", e.at(-1), e.at(60))

	t.Run("dry run reports and changes nothing", func(t *testing.T) {
		sum, reqs := e.run(t, "reconcile", true)
		if writes(reqs) != 0 || sum.Flagged < 2 || !slices.ContainsFunc(sum.Accounts, func(a sweep.Account) bool { return a.Action == "would add" && a.UserID == drift.ID }) {
			t.Errorf("dry run: %+v with %d writes", sum, writes(reqs))
		}
		if marks, _ := e.ledger.Marks(context.Background(), ""); len(marks) != 0 {
			t.Errorf("the dry run wrote marks %v", marks)
		}
	})
	t.Run("first run: the ghost is flagged, the drift re-added, the unredeemed flagged", func(t *testing.T) {
		sum, _ := e.run(t, "reconcile", false)
		members := e.tenant.Members(cg)
		if !slices.Contains(members, ghost.ID) {
			t.Error("the ghost was removed before the grace period")
		}
		if !slices.Contains(members, drift.ID) || sum.Added != 1 {
			t.Errorf("the removed-by-hand contractor was not re-added (summary %+v)", sum)
		}
		if !hasReason(sum, ghost.ID, "flagged", "ghost") || !hasReason(sum, stale.ID, "flagged", "invitation not redeemed") {
			t.Errorf("accounts = %+v, want the ghost and the unredeemed guest flagged", sum.Accounts)
		}
		if !sum.Complete || sum.Errors != 0 || sum.Examined != 3 {
			t.Errorf("summary %+v, want complete, no errors, 3 members examined (legit, ghost, late)", sum)
		}
		if sum.Ghosts != 1 {
			t.Errorf("summary counts %d ghosts, want 1 (flagged, within its grace)", sum.Ghosts)
		}
	})
	t.Run("within the grace period the ghost stays", func(t *testing.T) {
		e.now = e.at(0.9)
		e.run(t, "reconcile", false)
		if !slices.Contains(e.tenant.Members(cg), ghost.ID) {
			t.Error("removed within the grace period")
		}
	})
	t.Run("after the grace period the ghost is removed", func(t *testing.T) {
		e.now = e.at(1.01)
		sum, _ := e.run(t, "reconcile", false)
		if slices.Contains(e.tenant.Members(cg), ghost.ID) || sum.Removed != 1 || sum.Ghosts != 1 || !hasReason(sum, ghost.ID, "removed", "grace period") {
			t.Errorf("after the grace: summary %+v; want the ghost counted and removed", sum)
		}
		if !slices.Contains(e.tenant.Members(cg), drift.ID) || len(e.tenant.Members(cg)) != 3 {
			t.Errorf("members = %v, want the three contractors", e.tenant.Members(cg))
		}
		trail, _ := e.ledger.Audit(context.Background(), engagement.AuditQuery{Contractor: "-"})
		if !slices.ContainsFunc(trail, func(a engagement.AuditEntry) bool {
			return a.Action == "sweep.removed" && strings.Contains(a.Detail, ghost.ID)
		}) {
			t.Error("the removal is not in the audit trail")
		}
	})
}

func TestReconcileReportOnlyAndDisabledButMember(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	e.sweeper.ReportGhosts = true
	cg := e.groups["contractor-access"]
	e.start(t, "gone@partner.example", e.at(-10), e.at(1))
	e.now = e.at(2)
	if sum, _ := e.run(t, "tick", false); sum.Disabled != 1 { // ends it: removed and blocked by stint
		t.Fatalf("tick: %+v, want the account blocked", sum)
	}
	gone, _ := e.tenant.UserByMail("gone@partner.example")
	if err := e.tenant.AddMember(cg, gone.ID); err != nil { // an admin puts them back
		t.Fatal(err)
	}
	ghost := e.tenant.AddUser(sandbox.User{DisplayName: "Ghost", Mail: "ghost@old.example", UserType: "Guest", AccountEnabled: true})
	if err := e.tenant.AddMember(cg, ghost.ID); err != nil {
		t.Fatal(err)
	}
	e.now = e.at(5)
	sum, _ := e.run(t, "reconcile", false)
	members := e.tenant.Members(cg)
	if slices.Contains(members, gone.ID) || !hasReason(sum, gone.ID, "removed", "stint blocked this account") {
		t.Errorf("the account stint disabled is still a member: %+v", sum.Accounts)
	}
	if !slices.Contains(members, ghost.ID) || !hasReason(sum, ghost.ID, "flagged", "report-only") {
		t.Errorf("report-only: the ghost must stay, flagged: %+v", sum.Accounts)
	}
}

func TestReconcileResumesWhereItStopped(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	for i := range 3 {
		u := e.tenant.AddUser(sandbox.User{DisplayName: "x", Mail: fmt.Sprintf("x%d@gh.example", i), UserType: "Guest", AccountEnabled: true})
		if err := e.tenant.AddMember(e.groups["github-org"], u.ID); err != nil {
			t.Fatal(err)
		}
	}
	u := e.tenant.AddUser(sandbox.User{DisplayName: "y", Mail: "y@ca.example", UserType: "Guest", AccountEnabled: true})
	if err := e.tenant.AddMember(e.groups["contractor-access"], u.ID); err != nil {
		t.Fatal(err)
	}
	// A run out of time before it starts saves its place (group 0).
	e.sweeper.Margin = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := e.sweeper.Reconcile(ctx, false)
	if err != nil || sum.Complete || sum.Examined != 0 {
		t.Fatalf("out of time: %+v, %v; want an incomplete run that examined nothing", sum, err)
	}
	if m, _ := e.ledger.Marks(context.Background(), "reconcile/"); m["reconcile/next-group"] != "0" {
		t.Fatalf("checkpoint = %v, want group 0", m)
	}
	// As if the first group (contractor-access) had been done: the next
	// run starts at the second (github-org).
	if err := e.ledger.SetMark(context.Background(), "reconcile/next-group", "1"); err != nil {
		t.Fatal(err)
	}
	e.sweeper.Margin = 0
	sum, _ = e.run(t, "reconcile", false)
	if !sum.Complete || sum.Examined != 3 {
		t.Errorf("resumed run: %+v, want complete after examining github-org's 3 members only", sum)
	}
	if m, _ := e.ledger.Marks(context.Background(), "reconcile/"); len(m) != 0 {
		t.Errorf("checkpoint left after a complete run: %v", m)
	}
}

func TestReconcileHundredThousandMembersUnderThrottling(t *testing.T) {
	e := newEnv(t, entratest.Options{MaxRetries: 10})
	cg := e.groups["contractor-access"]
	for i := range 100_000 {
		u := e.tenant.AddUser(sandbox.User{DisplayName: "m", Mail: fmt.Sprintf("m%d@bulk.example", i), UserType: "Guest", AccountEnabled: true, ExternalUserState: "Accepted"})
		if err := e.tenant.AddMember(cg, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	// A budget small enough that the listing is throttled on a fast
	// machine, and three 429s whatever the machine's speed (a loaded one
	// may list slower than the budget refills).
	e.tenant.EnableThrottling(sandbox.Throttle{UnitsPer10s: 120})
	e.tenant.Inject(sandbox.Fault{Method: "GET", Path: "/groups/", Status: 429, RetryAfter: "1", Times: 3})
	sum, reqs := e.run(t, "reconcile", true)
	throttled := 0
	for _, r := range reqs {
		if r.Status == 429 {
			throttled++
		}
	}
	if sum.Errors != 0 || !sum.Complete || sum.Examined != 100_000 {
		t.Errorf("summary: examined %d, errors %d, complete %v; want all 100,000, no error", sum.Examined, sum.Errors, sum.Complete)
	}
	if throttled < 3 {
		t.Errorf("%d requests throttled, want at least the 3 injected", throttled)
	}
	t.Logf("%d requests (%d answered 429, all waited out) for 100,000 members in %.1fs", len(reqs), throttled, sum.Seconds)
}

func hasReason(sum sweep.Summary, uid, action, reason string) bool {
	return slices.ContainsFunc(sum.Accounts, func(a sweep.Account) bool {
		return a.UserID == uid && a.Action == action && strings.Contains(a.Reason, reason)
	})
}

// An end whose directory step fails is still recorded: a reconcile must not
// give the access back, and the tick retries the block with a backoff.
func TestFailedEndIsRecordedAndRetriedNotUndone(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	e.start(t, "fay@partner.example", e.at(-5), e.at(60))
	fay, _ := e.tenant.UserByMail("fay@partner.example")
	e.now = e.at(0)
	// Graph refuses to block (as it does for a guest holding an admin role).
	e.tenant.Inject(sandbox.Fault{Method: "PATCH", Path: "/users/", Status: 403})
	end := event.Event{SpecVersion: "1.0", ID: "end-fay", Source: "hr/test", Type: event.Ended, Time: e.now, Subject: "ENG-fay",
		Data: event.Data{EngagementID: "ENG-fay", Contractor: event.Contractor{Email: "fay@partner.example"}}}
	if _, err := e.worker.HandleEvent(context.Background(), end); err == nil {
		t.Fatal("HandleEvent succeeded though the block was refused")
	}
	rec, _ := e.ledger.Engagement(context.Background(), "ENG-fay")
	_, seenErr := e.ledger.Seen(context.Background(), "hr/test end-fay")
	if !rec.EndsAt.Equal(e.now) || !fault.Is(seenErr, fault.NotFound) {
		t.Errorf("record: ends %v, seen %v; want the end recorded and the event not marked seen (so it can be replayed)", rec.EndsAt, seenErr)
	}
	e.tenant.ClearFaults()
	e.tenant.Inject(sandbox.Fault{Method: "PATCH", Path: "/users/", Status: 403})
	e.now = e.at(0.01)
	sum, _ := e.run(t, "reconcile", false)
	if slices.Contains(e.tenant.Members(e.groups["contractor-access"]), fay.ID) || sum.Added != 0 {
		t.Errorf("the reconcile gave the ended contractor her group back: %+v", sum)
	}
	tick, _ := e.run(t, "tick", false)
	if tick.Errors != 1 {
		t.Errorf("tick while Graph still refuses: %+v, want one failure", tick)
	}
	if again, reqs := e.run(t, "tick", false); again.Errors != 0 || len(reqs) != 0 {
		t.Errorf("a tick within the backoff: %+v, %d requests; want the contractor left alone", again, len(reqs))
	}
	e.tenant.ClearFaults()
	e.now = e.at(0.01).Add(2 * time.Minute)
	if sum, _ := e.run(t, "tick", false); sum.Errors != 0 || sum.Expired != 1 || sum.Disabled != 1 {
		t.Errorf("tick after the backoff, Graph willing: %+v, want expired and blocked", sum)
	}
	if u, _ := e.tenant.User(fay.ID); u.AccountEnabled {
		t.Error("still enabled after the tick")
	}
}

// Settles of one contractor are serialised by a claim on the contractor
// record, taken and released even by a settle with nothing to do.
func TestSettleClaimsAndReleasesTheContractor(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	e.start(t, "gil@partner.example", e.at(-1), e.at(60))
	before, _ := e.ledger.Contractor(context.Background(), "gil@partner.example")
	if _, err := e.worker.Settle(context.Background(), "gil@partner.example", "stint:test", worker.Found{}); err != nil {
		t.Fatal(err)
	}
	after, _ := e.ledger.Contractor(context.Background(), "gil@partner.example")
	if after.Version != before.Version+2 || after.ClaimedBy != "" {
		t.Errorf("contractor version %d → %d, claimed by %q: want claimed, then released by the commit", before.Version, after.Version, after.ClaimedBy)
	}
}

func TestDryRunWritesNoAudit(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	before, _ := e.ledger.Audit(context.Background(), engagement.AuditQuery{})
	e.run(t, "reconcile", true)
	e.run(t, "tick", true)
	after, _ := e.ledger.Audit(context.Background(), engagement.AuditQuery{})
	if len(after) != len(before) {
		t.Errorf("dry runs appended %d audit entries", len(after)-len(before))
	}
}

// A ghost whose removal fails keeps its first sighting: the next run
// removes it, rather than starting a new grace period.
func TestFailedGhostRemovalKeepsItsGrace(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	cg := e.groups["contractor-access"]
	ghost := e.tenant.AddUser(sandbox.User{DisplayName: "Ghost", Mail: "ghost@old.example", UserType: "Guest", AccountEnabled: true})
	if err := e.tenant.AddMember(cg, ghost.ID); err != nil {
		t.Fatal(err)
	}
	e.run(t, "reconcile", false) // first sighting
	e.now = e.at(2)
	e.tenant.Inject(sandbox.Fault{Method: "POST", Path: "/$batch", Status: 403})
	if sum, _ := e.run(t, "reconcile", false); sum.Errors != 1 || !slices.Contains(e.tenant.Members(cg), ghost.ID) {
		t.Fatalf("removal under a 403: %+v, want one failure and the ghost still there", sum)
	}
	e.tenant.ClearFaults()
	e.now = e.at(2.01)
	if sum, _ := e.run(t, "reconcile", false); sum.Removed != 1 || slices.Contains(e.tenant.Members(cg), ghost.ID) {
		t.Errorf("the run after the failure: %+v, want the ghost removed (its grace ran out days ago)", sum)
	}
}

// A sweep function given 20 s still settles (its margin shrinks with its
// time); one given too little to settle anyone fails, saying what to raise.
func TestShortTimeouts(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	e.start(t, "ana@partner.example", e.at(-1), e.at(0.5))
	e.now = e.at(0.5).Add(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sum, err := e.sweeper.Run(ctx, sweep.Input{Mode: "tick"})
	if err != nil || sum.Expired != 1 || !sum.Complete {
		t.Errorf("tick with 20 s: %+v, %v; want the end applied", sum, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if _, err := e.sweeper.Run(short, sweep.Input{Mode: "tick"}); !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), "raise the sweep function's timeout") {
		t.Errorf("tick with 1 s: %v, want a refusal naming the timeout to raise", err)
	}
}

// Contractors whose settle keeps failing leave the due list until their
// retry time: they never fill the tick's page, and later work still gets
// done.
func TestStuckContractorsDoNotStarveTheTick(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	e.sweeper.Page = 2
	stuck := []string{"a@stuck.example", "b@stuck.example", "c@stuck.example"}
	for _, who := range stuck {
		e.start(t, who, e.at(-10), e.at(1))
		u, _ := e.tenant.UserByMail(who)
		// Graph refuses to block them, as it does a guest holding a role.
		e.tenant.Inject(sandbox.Fault{Method: "PATCH", Path: "/users/" + u.ID, Status: 403})
	}
	e.start(t, "ok@fine.example", e.at(-10), e.at(1.5))
	e.now = e.at(2) // all four are due; the three stuck ones are the oldest
	first, _ := e.run(t, "tick", false)
	second, _ := e.run(t, "tick", false)
	u, in := e.member(t, "ok@fine.example")
	if in || u.AccountEnabled {
		t.Errorf("ok@fine.example was not reached past the stuck ones: first tick %+v, second %+v", first, second)
	}
	if first.Errors != 3 || first.Expired != 1 || second.Examined != 0 {
		t.Errorf("ticks: %+v then %+v; want the stuck ones failing and ok expired past them, page after page, then nothing due until the retries", first, second)
	}
	e.tenant.ClearFaults()
	e.now = e.now.Add(time.Minute) // the stuck ones' retry time
	e.sweeper.Page = 0
	if sum, _ := e.run(t, "tick", false); sum.Expired != 3 || sum.Errors != 0 {
		t.Errorf("tick at the retry time: %+v, want the three stuck ones done", sum)
	}
}

// An engagement reopened by an extension whose grant failed stays ended as
// applied; the tick retries it at its retry time all the same.
func TestReopenedEngagementWhoseGrantFailedIsRetried(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	e.start(t, "rae@partner.example", e.at(-10), e.at(1))
	e.now = e.at(2)
	e.run(t, "tick", false) // ended: removed, blocked
	e.tenant.Inject(sandbox.Fault{Method: "POST", Path: "/groups/", Status: 503})
	ext := event.Event{SpecVersion: "1.0", ID: "x-rae", Source: "hr/test", Type: event.Extended, Time: e.now, Subject: "ENG-rae",
		Data: event.Data{EngagementID: "ENG-rae", Contractor: event.Contractor{Email: "rae@partner.example"}, EndsAt: ptrTime(e.at(60))}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := e.worker.HandleEvent(ctx, ext); err == nil {
		t.Fatal("the reopening succeeded though Graph refused the add")
	}
	e.tenant.ClearFaults()
	e.now = e.now.Add(time.Minute)
	e.run(t, "tick", false)
	if u, in := e.member(t, "rae@partner.example"); !in || !u.AccountEnabled {
		t.Errorf("after the retry: member %v, enabled %v; want the reopened engagement granted", in, u.AccountEnabled)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

// Two ticks never overlap: one started while another holds the lease does
// nothing, and says so.
func TestOneTickAtATime(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	if ok, err := e.ledger.Lease(context.Background(), "sweep/tick", "another-run", e.now, e.now.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("lease: %v, %v", ok, err)
	}
	sum, _ := e.run(t, "tick", false)
	if !sum.Skipped {
		t.Errorf("a tick while another holds the lease: %+v, want skipped", sum)
	}
	e.now = e.now.Add(2 * time.Minute) // the other run died: its lease expired
	if sum, _ := e.run(t, "tick", false); sum.Skipped {
		t.Errorf("a tick after the lease expired: %+v, want it run", sum)
	}
}

// An active contractor whose account was deleted, and whose re-invitation
// by the reconcile failed, is invited again by the tick at its retry time.
func TestFailedReinvitationIsRetried(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	e.start(t, "del@partner.example", e.at(-1), e.at(60))
	u, _ := e.tenant.UserByMail("del@partner.example")
	e.tenant.DeleteUser(u.ID)
	e.tenant.Inject(sandbox.Fault{Method: "POST", Path: "/invitations", Status: 403, Times: 1})
	if sum, _ := e.run(t, "reconcile", false); sum.Errors != 1 {
		t.Fatalf("reconcile with the invitation refused: %+v, want one failure", sum)
	}
	e.now = e.now.Add(time.Minute)
	e.run(t, "tick", false)
	if _, in := e.member(t, "del@partner.example"); !in {
		t.Error("the contractor was not invited again and given her group")
	}
}

// A dry run does not resume from a real run's checkpoint: it looks at
// every group, and says it did.
func TestDryRunIgnoresTheCheckpoint(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	u := e.tenant.AddUser(sandbox.User{Mail: "y@ca.example", UserType: "Guest", AccountEnabled: true})
	e.tenant.AddMember(e.groups["contractor-access"], u.ID) // group 0
	e.ledger.SetMark(context.Background(), "reconcile/next-group", "1")
	sum, _ := e.run(t, "reconcile", true)
	if !sum.Complete || sum.Examined != 1 {
		t.Errorf("dry run with a checkpoint at group 1: %+v, want group 0 examined too, complete", sum)
	}
}

// A resumed run forgets the first sightings of ghosts gone from the groups
// it visits, not only a run that starts at the first group.
func TestResumedRunForgetsGhostsGone(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	gh := e.groups["github-org"] // group 1
	u := e.tenant.AddUser(sandbox.User{Mail: "x@gh.example", UserType: "Guest", AccountEnabled: true})
	e.tenant.AddMember(gh, u.ID)
	e.run(t, "reconcile", false)    // first sighting
	e.tenant.RemoveMember(gh, u.ID) // removed by someone else
	e.ledger.SetMark(context.Background(), "reconcile/next-group", "1")
	e.run(t, "reconcile", false) // resumes at group 1
	if marks, _ := e.ledger.Marks(context.Background(), "ghost/"); len(marks) != 0 {
		t.Errorf("ghost marks after a resumed run = %v, want the gone ghost forgotten", marks)
	}
}

// A tick with nothing to do leaves no audit entry.
func TestQuietTickLeavesNoAuditEntry(t *testing.T) {
	e := newEnv(t, entratest.Options{})
	before, _ := e.ledger.Audit(context.Background(), engagement.AuditQuery{})
	e.run(t, "tick", false)
	after, _ := e.ledger.Audit(context.Background(), engagement.AuditQuery{})
	if len(after) != len(before) {
		t.Errorf("a quiet tick appended %d audit entries", len(after)-len(before))
	}
}
