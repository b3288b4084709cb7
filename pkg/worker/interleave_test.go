package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger/dynamo"
	"github.com/stintdev/stint/pkg/worker"
	"github.com/stintdev/stint/test/dynalite"
)

// The tests here interleave two actors on one contractor — an event and
// the tick — by pausing one between its Entra writes and its ledger write,
// and check that no interleaving grants access after an end or takes it
// from an active contractor. Each runs on SQLite and on DynamoDB.

var dynamoServer struct {
	once sync.Once
	srv  *dynalite.Server
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dynamoServer.srv != nil {
		dynamoServer.srv.Stop()
	}
	os.Exit(code)
}

// ledgers are the backends every interleaving runs on.
var ledgers = []struct {
	name string
	open func(tb testing.TB) engagement.Ledger
}{
	{"sqlite", nil}, // newEnv's own
	{"dynamodb", func(tb testing.TB) engagement.Ledger {
		tb.Helper()
		dynamoServer.once.Do(func() { dynamoServer.srv, dynamoServer.err = dynalite.Start() })
		if dynamoServer.err != nil {
			tb.Fatal(dynamoServer.err)
		}
		ctx := context.Background()
		table := dynalite.Table(tb)
		if err := dynamo.CreateTable(ctx, dynamoServer.srv.Client(), table); err != nil {
			tb.Fatal(err)
		}
		l, err := dynamo.New(ctx, dynamoServer.srv.Client(), table)
		if err != nil {
			tb.Fatal(err)
		}
		return l
	}},
}

// pausing is the directory that pauses its caller right after one kind of
// write reached Entra, before the caller records it.
type pausing struct {
	engagement.Directory
	mu     sync.Mutex
	armed  bool
	paused chan struct{}
	resume chan struct{}
}

func newPausing(dir engagement.Directory) *pausing {
	return &pausing{Directory: dir, paused: make(chan struct{}), resume: make(chan struct{})}
}

// arm pauses the next SetAccountEnabled after it is done.
func (p *pausing) arm() {
	p.mu.Lock()
	p.armed = true
	p.mu.Unlock()
}

func (p *pausing) SetAccountEnabled(ctx context.Context, userID string, enabled bool) error {
	err := p.Directory.SetAccountEnabled(ctx, userID, enabled)
	p.mu.Lock()
	armed := p.armed
	p.armed = false
	p.mu.Unlock()
	if armed {
		close(p.paused)
		<-p.resume
	}
	return err
}

// interleave runs first until it pauses, then second for up to a moment
// (it may finish, or wait for first), then lets first finish, and returns
// both errors.
func interleave(p *pausing, first, second func() error) (error, error) {
	firstDone, secondDone := make(chan error, 1), make(chan error, 1)
	p.arm()
	go func() { firstDone <- first() }()
	<-p.paused
	go func() { secondDone <- second() }()
	select {
	case err := <-secondDone:
		secondDone <- err
	case <-time.After(500 * time.Millisecond):
	}
	close(p.resume)
	return <-firstDone, <-secondDone
}

func forEachLedger(t *testing.T, f func(t *testing.T, e *env, p *pausing)) {
	for _, l := range ledgers {
		t.Run(l.name, func(t *testing.T) {
			e := newEnv(t)
			if l.open != nil {
				e.handler.Ledger = l.open(t)
			}
			p := newPausing(e.handler.Directory)
			e.handler.Directory = p
			f(t, e, p)
		})
	}
}

// fixedDays returns a clock of days from e.now as it is now: e.day moves
// with e.now.
func (e *env) fixedDays() func(float64) time.Time {
	t0 := e.now
	return func(n float64) time.Time { return t0.Add(time.Duration(n * 24 * float64(time.Hour))) }
}

func (e *env) settle(t *testing.T) error {
	_, err := e.handler.Settle(context.Background(), "ana@partner.example", "stint:tick", worker.Found{})
	return err
}

func (e *env) apply(t *testing.T, ev event.Event) error {
	_, err := e.handler.HandleEvent(context.Background(), ev)
	return err
}

func (e *env) contractor(t *testing.T) engagement.Contractor {
	t.Helper()
	c, err := e.handler.Ledger.Contractor(context.Background(), "ana@partner.example")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The tick re-grants a guest stint had blocked (adds the group, re-enables
// the account) while HR cancels the new engagement: the account must end
// removed and blocked, whichever commits first.
func TestNoGrantAfterTheEnd(t *testing.T) {
	forEachLedger(t, func(t *testing.T, e *env, p *pausing) {
		at := e.fixedDays()
		if err := e.apply(t, e.started("s1", at(-10), at(-10), at(1))); err != nil {
			t.Fatal(err)
		}
		e.now = at(1.1)
		if err := e.settle(t); err != nil { // the tick ends ENG-1: removed, blocked by stint
			t.Fatal(err)
		}
		second := e.ev("s2", event.Started, at(1.2), "ENG-2", func(d *event.Data) { s, end := at(1.5), at(60); d.StartsAt, d.EndsAt = &s, &end })
		e.now = at(1.2)
		if err := e.apply(t, second); err != nil {
			t.Fatal(err)
		}
		e.now = at(1.6) // ENG-2's start has come: due for the tick
		cancel := e.ev("x2", event.Ended, at(1.55), "ENG-2", nil)
		tickErr, eventErr := interleave(p, func() error { return e.settle(t) }, func() error { return e.apply(t, cancel) })
		if tickErr != nil || eventErr != nil {
			t.Fatalf("tick: %v; cancellation: %v", tickErr, eventErr)
		}
		ana := e.ana(t)
		c := e.contractor(t)
		if ana.AccountEnabled || len(e.memberOf(ana.ID)) != 0 || !c.Blocked || !c.DisabledByStint {
			t.Errorf("after the cancellation: enabled %v, groups %v, record %+v; want removed and blocked by stint", ana.AccountEnabled, e.memberOf(ana.ID), c)
		}
	})
}

// The tick expires an engagement (removes, blocks) while an extension dated
// before the end arrives: the contractor must end active, in the group,
// with sign-in enabled.
func TestNoLockOutOfAnActiveContractor(t *testing.T) {
	forEachLedger(t, func(t *testing.T, e *env, p *pausing) {
		at := e.fixedDays()
		if err := e.apply(t, e.started("s1", at(-10), at(-10), at(1))); err != nil {
			t.Fatal(err)
		}
		ext := e.ev("x1", event.Extended, at(0.9), "ENG-1", func(d *event.Data) { end := at(60); d.EndsAt = &end })
		e.now = at(1.1) // past the end: due for the tick; the extension was sent before it
		tickErr, eventErr := interleave(p, func() error { return e.settle(t) }, func() error { return e.apply(t, ext) })
		if tickErr != nil || eventErr != nil {
			t.Fatalf("tick: %v; extension: %v", tickErr, eventErr)
		}
		ana := e.ana(t)
		if !ana.AccountEnabled || !slices.Equal(e.memberOf(ana.ID), []string{"contractor-access"}) {
			t.Errorf("after the extension: enabled %v, groups %v; want enabled and in contractor-access", ana.AccountEnabled, e.memberOf(ana.ID))
		}
	})
}

// Two settles end one guest at once: the record must still say that stint
// disabled the account, so that a new engagement re-enables it.
func TestDisabledByStintIsNotLost(t *testing.T) {
	forEachLedger(t, func(t *testing.T, e *env, p *pausing) {
		at := e.fixedDays()
		if err := e.apply(t, e.started("s1", at(-10), at(-10), at(1))); err != nil {
			t.Fatal(err)
		}
		e.now = at(1.1)
		end := e.ev("e1", event.Ended, at(1.05), "ENG-1", nil)
		tickErr, eventErr := interleave(p, func() error { return e.settle(t) }, func() error { return e.apply(t, end) })
		if tickErr != nil || eventErr != nil {
			t.Fatalf("tick: %v; end: %v", tickErr, eventErr)
		}
		if c := e.contractor(t); !c.DisabledByStint {
			t.Fatalf("record %+v: want disabled by stint", c)
		}
		again := e.ev("s2", event.Started, at(1.2), "ENG-2", func(d *event.Data) { s, end := at(1.2), at(60); d.StartsAt, d.EndsAt = &s, &end })
		e.now = at(1.3)
		if err := e.apply(t, again); err != nil {
			t.Fatal(err)
		}
		if ana := e.ana(t); !ana.AccountEnabled {
			t.Error("a new engagement did not re-enable the account stint had disabled")
		}
	})
}

// A settle that dies between disabling a guest and recording it leaves its
// claim; once the claim expires the next settle takes over, reads the
// account from Entra, and knows stint disabled it.
func TestTakeOverFromASettleThatDied(t *testing.T) {
	forEachLedger(t, func(t *testing.T, e *env, p *pausing) {
		at := e.fixedDays()
		if err := e.apply(t, e.started("s1", at(-10), at(-10), at(1))); err != nil {
			t.Fatal(err)
		}
		e.now = at(1.1)
		p.arm()
		dead := make(chan error, 1)
		go func() { dead <- e.settle(t) }() // "dies" once it disabled the account
		<-p.paused
		if err := e.settle(t); !worker.IsBusy(err) {
			t.Fatalf("a settle while the claim holds: %v, want busy", err)
		}
		e.now = e.now.Add(3 * time.Minute) // the claim has expired
		if err := e.settle(t); err != nil {
			t.Fatalf("the settle that takes over: %v", err)
		}
		c := e.contractor(t)
		ana := e.ana(t)
		if ana.AccountEnabled || len(e.memberOf(ana.ID)) != 0 || !c.Blocked || !c.DisabledByStint || c.ClaimedBy != "" {
			t.Errorf("after the take-over: enabled %v, groups %v, record %+v; want removed, blocked by stint, unclaimed", ana.AccountEnabled, e.memberOf(ana.ID), c)
		}
		// Had the first settle only been slow, its commit now fails: what it
		// did in Entra is still recorded, and it starts again from the top.
		close(p.resume)
		if err := <-dead; err != nil {
			t.Errorf("the overrun settle, resumed: %v", err)
		}
		trail, _ := e.handler.Ledger.Audit(context.Background(), engagement.AuditQuery{Contractor: "ana@partner.example"})
		if !slices.ContainsFunc(trail, func(a engagement.AuditEntry) bool { return a.Action == engagement.SettleTookOver }) {
			t.Error("the take-over is not in the audit trail")
		}
		if !slices.ContainsFunc(trail, func(a engagement.AuditEntry) bool {
			return a.Action == engagement.AccountDisabled && strings.Contains(a.Detail, "overran its claim")
		}) {
			t.Error("the overrun settle's disabling is not in the audit trail")
		}
	})
}

// An event for a contractor another settle holds, whose own time runs out
// first, says the contractor is busy and for how long the other claim
// still runs: that is the wait its transport holds the message for, not a
// blind backoff after a bare "deadline exceeded".
func TestBusyContractorSaysHowLongToWait(t *testing.T) {
	forEachLedger(t, func(t *testing.T, e *env, p *pausing) {
		at := e.fixedDays()
		if err := e.apply(t, e.started("s1", at(-10), at(-10), at(1))); err != nil {
			t.Fatal(err)
		}
		c := e.contractor(t)
		c.ClaimedBy, c.ClaimedUntil = "a settle that died", e.now.Add(90*time.Second)
		if _, err := e.handler.Ledger.PutContractor(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := e.handler.HandleEvent(ctx, e.ev("x1", event.Extended, at(0.5), "ENG-1", func(d *event.Data) { end := at(5); d.EndsAt = &end }))
		v := worker.VerdictOf(err)
		if !worker.IsBusy(err) || v.Outcome != engagement.Retry || v.Wait != 90*time.Second {
			t.Errorf("the event: %v, verdict %s after %s; want busy, retried after the other claim's 1m30s", err, v.Outcome, v.Wait)
		}
	})
}

// lossy is the directory whose sign-in changes reach Entra but whose
// answers are lost on the way back.
type lossy struct{ engagement.Directory }

func (l lossy) SetAccountEnabled(ctx context.Context, userID string, enabled bool) error {
	if err := l.Directory.SetAccountEnabled(ctx, userID, enabled); err != nil {
		return err
	}
	return fault.Errorf(fault.Transient, "connection reset by peer")
}

// A block whose answer was lost disabled the account all the same: the
// retry must record that stint did it, so that a new engagement re-enables
// the account.
func TestBlockWhoseAnswerWasLostIsStints(t *testing.T) {
	forEachLedger(t, func(t *testing.T, e *env, p *pausing) {
		at := e.fixedDays()
		if err := e.apply(t, e.started("s1", at(-10), at(-10), at(30))); err != nil {
			t.Fatal(err)
		}
		real := e.handler.Directory
		e.handler.Directory = lossy{real}
		end := e.ev("e1", event.Ended, at(0), "ENG-1", nil)
		if err := e.apply(t, end); !fault.Is(err, fault.Transient) {
			t.Fatalf("the end with its answer lost: %v, want a transient failure", err)
		}
		e.handler.Directory = real
		if err := e.apply(t, end); err != nil {
			t.Fatalf("the redelivery: %v", err)
		}
		if c := e.contractor(t); !c.DisabledByStint || c.Disabling {
			t.Fatalf("record %+v: want disabled by stint, the intention cleared", c)
		}
		e.now = at(1)
		again := e.ev("s2", event.Started, at(1), "ENG-2", func(d *event.Data) { s, end := at(1), at(60); d.StartsAt, d.EndsAt = &s, &end })
		if err := e.apply(t, again); err != nil {
			t.Fatal(err)
		}
		if ana := e.ana(t); !ana.AccountEnabled {
			t.Error("a new engagement did not re-enable the account stint had disabled")
		}
	})
}

// An engagement that has had 10,000 events (1,000 on DynamoDB, whose local
// server is slow) is as small as after its first: which events were
// handled is kept beside the record, one note each, never in it.
func TestTenThousandEventsKeepTheRecordSmall(t *testing.T) {
	forEachLedger(t, func(t *testing.T, e *env, p *pausing) {
		n := 10_000
		if _, ok := e.handler.Ledger.(*dynamo.Ledger); ok {
			n = 1_000
		}
		if testing.Short() {
			n = 100
		}
		at := e.fixedDays()
		if err := e.apply(t, e.started("s", at(-1), at(-1), at(30))); err != nil {
			t.Fatal(err)
		}
		first, _ := e.handler.Ledger.Engagement(context.Background(), "ENG-1")
		for i := range n {
			ext := e.ev(fmt.Sprintf("x-%05d", i), event.Extended, at(-1).Add(time.Duration(i+1)*time.Second), "ENG-1",
				func(d *event.Data) { end := at(30).Add(time.Duration(i) * time.Minute); d.EndsAt = &end })
			if err := e.apply(t, ext); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
		}
		last, _ := e.handler.Ledger.Engagement(context.Background(), "ENG-1")
		a, _ := json.Marshal(first)
		b, _ := json.Marshal(last)
		if len(b) > len(a)+64 {
			t.Errorf("the record grew from %d to %d bytes over %d events", len(a), len(b), n)
		}
		if _, err := e.handler.Ledger.Seen(context.Background(), "hr/test x-00000"); err != nil {
			t.Errorf("the first extension is not noted as handled: %v", err)
		}
		if res, err := e.handler.HandleEvent(context.Background(), e.ev("x-00000", event.Extended, at(-1).Add(time.Second), "ENG-1",
			func(d *event.Data) { end := at(30); d.EndsAt = &end })); err != nil || res.Outcome != engagement.Duplicate {
			t.Errorf("the first extension again: %+v, %v; want a duplicate", res, err)
		}
	})
}

// dying is the directory of a settle that dies right after an invitation
// went through: its caller never hears back.
type dying struct {
	engagement.Directory
	invited chan struct{}
}

func (d dying) Invite(ctx context.Context, inv engagement.Invitation) (engagement.User, error) {
	d.Directory.Invite(ctx, inv)
	close(d.invited)
	select {} // the process is gone
}

// A settle dies right after re-inviting a contractor whose account was
// deleted; by the time another takes over, the engagement has ended: the
// new account, which no record names, is found and blocked.
func TestTakeOverFindsAnAccountTheDeadSettleInvited(t *testing.T) {
	forEachLedger(t, func(t *testing.T, e *env, p *pausing) {
		at := e.fixedDays()
		if err := e.apply(t, e.started("s1", at(-1), at(-1), at(1))); err != nil {
			t.Fatal(err)
		}
		e.tenant.DeleteUser(e.ana(t).ID)
		real := e.handler.Directory
		d := dying{Directory: real, invited: make(chan struct{})}
		e.handler.Directory = d
		go e.handler.Settle(context.Background(), "ana@partner.example", "stint:reconcile", worker.Found{Missing: []string{"contractor-access"}})
		<-d.invited
		e.handler.Directory = real
		e.now = at(1.1) // the engagement has ended; the dead settle's claim too
		if err := e.settle(t); err != nil {
			t.Fatalf("the settle that takes over: %v", err)
		}
		if ana := e.ana(t); ana.AccountEnabled || len(e.memberOf(ana.ID)) != 0 {
			t.Errorf("the account the dead settle invited: enabled %v, groups %v; want blocked, in no group", ana.AccountEnabled, e.memberOf(ana.ID))
		}
	})
}

// diesAfterGrant is the directory of a settle that dies once it has added
// a member to a group, before it can record anything.
type diesAfterGrant struct {
	engagement.Directory
	added chan struct{}
}

func (d diesAfterGrant) AddMember(ctx context.Context, groupID, userID string) error {
	d.Directory.AddMember(ctx, groupID, userID)
	close(d.added)
	select {} // the process is gone
}

// A settle dies after it invited a contractor and added them to the group,
// before its commit; its event comes back: the take-over finds both, and the trail says so —
// once, as found, since the dead settle never wrote them.
func TestTakeOverRecordsWhatTheDeadSettleDid(t *testing.T) {
	forEachLedger(t, func(t *testing.T, e *env, p *pausing) {
		at := e.fixedDays()
		real := e.handler.Directory
		d := diesAfterGrant{Directory: real, added: make(chan struct{})}
		e.handler.Directory = d
		started := e.started("s1", at(-1), at(-1), at(1))
		go e.apply(t, started)
		<-d.added
		e.handler.Directory = real
		e.now = e.now.Add(3 * time.Minute) // the dead settle's claim has expired
		if err := e.apply(t, started); err != nil {
			t.Fatalf("the redelivered event, which takes over: %v", err)
		}
		if ana := e.ana(t); !ana.AccountEnabled || len(e.memberOf(ana.ID)) != 1 {
			t.Errorf("after the take-over: enabled %v, groups %v; want enabled, in the access group", ana.AccountEnabled, e.memberOf(ana.ID))
		}
		trail, _ := e.handler.Ledger.Audit(context.Background(), engagement.AuditQuery{Contractor: "ana@partner.example"})
		count := map[engagement.Action]int{}
		for _, a := range trail {
			count[a.Action]++
		}
		if count[engagement.UserInvited]+count[engagement.UserFound] != 1 || count[engagement.GroupAdded]+count[engagement.GroupFound] != 1 {
			t.Errorf("trail %v: want the account and its group each recorded once", count)
		}
		if count[engagement.UserFound] != 1 || count[engagement.GroupFound] != 1 {
			t.Errorf("trail %v: want the take-over to record user.found and group.found", count)
		}
	})
}
