package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/ledger"
	"github.com/stintdev/stint/test/postgres"
)

// Three stint serve replicas on one PostgreSQL ledger, against one tenant.
// 1,000 events go to replicas picked at random (the sender, like an HR
// system, sends again to another replica whatever was not answered 202);
// one replica is killed with SIGKILL in the middle of the stream and
// started again. Every accepted event is applied exactly once, each
// contractor's events in order, each directory change audited once; and
// the engagements that end meanwhile are all ended by the replicas left.
func TestReplicasShareOnePostgreSQLLedger(t *testing.T) {
	pg := postgres.Start(t, postgres.Options{})
	store := pg.Database(t)
	tenant := serveTenant(t, permissions)
	env := append(tenant.env, "STINT_STORE="+store)

	type replica struct {
		data, addr string
		p          *serveProc
	}
	replicas := make([]*replica, 3)
	for i := range replicas {
		r := &replica{data: t.TempDir(), addr: freeAddr(t)}
		r.p = startServe(t, r.data, r.addr, append(env, "--tick=2s")...)
		replicas[i] = r
	}
	defer func() {
		for _, r := range replicas {
			r.p.cmd.Process.Signal(syscall.SIGTERM)
			r.p.cmd.Wait()
		}
	}()

	const contractors = 500 // a start and an extension each: 1,000 events
	const ending = 20       // of them, whose engagements end during the test
	now := time.Now()
	// The ending engagements' events go out only once a replica is down,
	// with ends counted from then: however slow the machine, every end
	// comes while it is down.
	var killed time.Time
	endOf := func(i int) time.Time {
		if i < ending {
			return killed.Add(20*time.Second + time.Duration(i)*500*time.Millisecond)
		}
		return now.Add(48 * time.Hour)
	}
	bodies := startsAndExtensions("r", contractors, now, endOf)[2*ending:]
	accepted := sendAll(webhookSecret, bodies, func() string { return replicas[rand.IntN(len(replicas))].addr })
	for range 400 {
		<-accepted
	}
	victim := replicas[rand.IntN(len(replicas))]
	if err := victim.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.p.cmd.Wait()
	killed = time.Now()
	t.Logf("replica %s killed %s after the first post", victim.addr, killed.Sub(now).Round(time.Millisecond))
	var alive []string
	for _, r := range replicas {
		if r != victim {
			alive = append(alive, r.addr)
		}
	}
	late := sendAll(webhookSecret, startsAndExtensions("r", ending, killed, endOf), func() string { return alive[rand.IntN(len(alive))] })
	// The stream goes on at the others meanwhile, and every end comes and
	// goes while this replica is down.
	time.Sleep(time.Until(endOf(ending-1)) + 3*time.Second)
	victim.p = startServe(t, victim.data, victim.addr, append(env, "--tick=2s")...)
	for range late {
	}
	for range accepted {
	}
	t.Logf("all accepted %s after the first post", time.Since(now).Round(time.Millisecond))

	ctx := context.Background()
	l, err := ledger.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	applied := func() map[string][]engagement.AuditEntry {
		out := map[string][]engagement.AuditEntry{}
		trail, err := l.Audit(ctx, engagement.AuditQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range trail {
			out[a.Contractor] = append(out[a.Contractor], a)
		}
		return out
	}
	done := func(lines []engagement.AuditEntry, action engagement.Action) int {
		n := 0
		for _, a := range lines {
			if a.Action == action {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(3 * time.Minute)
	var byContractor map[string][]engagement.AuditEntry
	for {
		byContractor = applied()
		finished := 0
		for i := range contractors {
			lines := byContractor[fmt.Sprintf("r%03d@vendor.example", i)]
			want := 2
			if i < ending {
				want = 3 // the end, by the tick
			}
			if done(lines, engagement.EventApplied)+done(lines, engagement.EventAppliedOutOfOrder)+done(lines, engagement.EngagementEnded) >= want {
				finished++
			}
		}
		if finished == contractors {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d contractors settled after 3 minutes\n%s", finished, contractors, tail(victim.p.out.String()))
		}
		time.Sleep(250 * time.Millisecond)
	}

	members := map[string]bool{}
	for _, id := range tenant.Members(tenant.group) {
		members[id] = true
	}
	for i := range contractors {
		email := fmt.Sprintf("r%03d@vendor.example", i)
		lines := byContractor[email]
		var events []string
		for _, a := range lines {
			if a.Action == engagement.EventApplied || a.Action == engagement.EventAppliedOutOfOrder || a.Action == engagement.EventStale {
				events = append(events, a.EventID+" "+string(a.Action))
			}
		}
		if want := []string{fmt.Sprintf("r-s-%03d event.applied", i), fmt.Sprintf("r-x-%03d event.applied", i)}; !slices.Equal(events, want) {
			t.Errorf("%s: events %q, want %q (each once, in order)", email, events, want)
		}
		invited := done(lines, engagement.UserInvited) + done(lines, engagement.UserFound)
		added := done(lines, engagement.GroupAdded) + done(lines, engagement.GroupFound)
		if invited != 1 || added != 1 {
			t.Errorf("%s: %d invited-or-found and %d added-or-found entries, want one each", email, invited, added)
		}
		u, ok := tenant.UserByMail(email)
		switch {
		case !ok:
			t.Errorf("%s: not in the tenant", email)
		case i < ending && members[u.ID]:
			t.Errorf("%s: still a member after the engagement ended at %s", email, endOf(i).Format(time.TimeOnly))
		case i >= ending && !members[u.ID]:
			t.Errorf("%s: not a member", email)
		}
	}
	if n := len(tenant.Invitations()); n != contractors {
		t.Errorf("%d invitations for %d contractors, want one each", n, contractors)
	}
	if t.Failed() {
		t.Logf("the restarted replica:\n%s", tail(victim.p.out.String()))
	}
}
