package model

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/sweep"
	"github.com/stintdev/stint/pkg/worker"
)

// The steps of a run: what each kind of step does to stint and the tenant.

func (r *run) step(ctx context.Context, st Step) error {
	switch st.Kind {
	case Send:
		return r.send(ctx, st)
	case Drain:
		return r.drain(ctx)
	case Tick:
		return r.sweep(ctx, r.sys.sweep, "tick", st.Seq)
	case Reconcile:
		return r.sweep(ctx, r.sys.sweep, "reconcile", st.Seq)
	case Admin:
		r.admin(st)
	}
	return nil
}

// send is the webhook accepting an event: it parses as the webhook would,
// and is enqueued with the event id as the deduplication id and the
// contractor key as the group.
func (r *run) send(ctx context.Context, st Step) error {
	ev := *st.Event
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if _, err := event.Parse(body); err != nil {
		return fmt.Errorf("the scenario made an event the webhook refuses: %w", err)
	}
	if err := r.sys.queue.Enqueue(ctx, engagement.Message{ID: ev.Key(), Digest: ev.Digest(), Group: ev.ContractorKey(), Body: body}); err != nil {
		return err
	}
	r.mu.Lock()
	r.stats.Sends++
	if st.Copy > 0 {
		r.stats.DuplicateSends++
	}
	if !r.acceptedIDs[ev.ID] {
		r.acceptedIDs[ev.ID] = true
		r.stats.Events++
		r.accepted[ev.Data.EngagementID] = append(r.accepted[ev.Data.EngagementID], ev)
	}
	r.mu.Unlock()
	again := ""
	if st.Copy > 0 {
		again = " (sent again)"
	}
	r.linef(st.Owner, "send %s%s", describeEvent(ev), again)
	return nil
}

// describeEvent prints an event in one line.
func describeEvent(ev event.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s time=%s", ev.ID, strings.TrimPrefix(string(ev.Type), "engagement."), ev.Data.EngagementID, stamp(ev.Time))
	if ev.Data.StartsAt != nil {
		fmt.Fprintf(&b, " startsAt=%s", stamp(*ev.Data.StartsAt))
	}
	if ev.Data.EndsAt != nil {
		fmt.Fprintf(&b, " endsAt=%s", stamp(*ev.Data.EndsAt))
	}
	if len(ev.Data.Access) > 0 {
		fmt.Fprintf(&b, " access=%v", ev.Data.Access)
	}
	return b.String()
}

// crashPlan decides, per person, whether a unit of work crashes and
// after which of their effects in it (0: it does not).
func (r *run) crashPlan(p float64, span int, work ...any) func(who string) int {
	if r.settling || r.opts.calm {
		return nil
	}
	return func(who string) int {
		id := append([]any{who}, work...)
		if unit(r.hash(append([]any{"crash"}, id...)...)) >= p {
			return 0
		}
		return 1 + int(r.hash(append([]any{"crash-at"}, id...)...)%uint64(span))
	}
}

func (r *run) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.settling {
		return context.WithTimeout(ctx, settleTimeout)
	}
	return context.WithTimeout(ctx, unitDeadline)
}

// drain hands the worker every message visible now, one at a time, as
// the host's workers do: acknowledged when done with, rescheduled when it
// failed, neither when the process crashed or the acknowledgement is lost
// (its lease then ends and it comes back). In the concurrent mode several
// drains run at once, each a worker of its own.
func (r *run) drain(ctx context.Context) error {
	for {
		more, err := r.deliver(ctx)
		if !more || err != nil {
			return err
		}
	}
}

// deliver hands the worker the next visible message, if there is one, as
// one unit of work.
func (r *run) deliver(ctx context.Context) (bool, error) {
	msgs, err := r.sys.queue.Receive(ctx, 1)
	if err != nil || len(msgs) == 0 {
		return false, err
	}
	m := msgs[0]
	r.mu.Lock()
	r.deliveries[eventID(m.ID)]++
	n := r.deliveries[eventID(m.ID)]
	r.stats.Deliveries++
	if n > 1 {
		r.stats.Redeliveries++
	}
	r.unit++
	r.mu.Unlock()
	who := r.byEmail[m.Group]
	r.linef(who, "deliver %s (delivery %d)", m.ID, n)
	uctx, fate := withCrash(ctx, r.crashPlan(crashDeliver, 6, "deliver", m.ID, n))
	dctx, cancel := r.deadline(uctx)
	perr := r.settleVerdict(dctx, m.Message, r.sys.handler.Process(dctx, m.Message))
	cancel()
	crashed, at := fate.state()
	lost := !crashed && perr == nil && !r.settling && !r.opts.calm && unit(r.hash("ack", m.ID, n)) < lostAckRate
	r.mu.Lock()
	if held := fate.metHeld(); len(held) > 0 {
		switch {
		case perr == nil:
			r.stats.ClaimWaits++
		case worker.IsBusy(perr):
			r.gaveUp(held)
		}
	}
	r.over(fate, crashed)
	switch {
	case crashed:
		r.stats.Crashes++
	case perr != nil:
		r.stats.Retries++
		r.failures++
	case lost:
		r.stats.LostAcks++
	}
	r.mu.Unlock()
	switch {
	case crashed:
		r.linef(who, "  crashed %s; the message comes back when its lease ends", at)
	case perr != nil:
		r.linef(who, "  failed, to be retried: %v", perr)
		if err := r.sys.queue.Retry(ctx, m, perr); err != nil {
			return false, err
		}
	case lost:
		r.linef(who, "  done, but the acknowledgement is lost: it will be delivered again")
	default:
		r.linef(who, "  done")
		if err := r.sys.queue.Ack(ctx, m.ID); err != nil {
			return false, err
		}
	}
	return true, nil
}

// over notes the end of a unit and of the claims it took: one still held
// later was left by it. The caller holds r.mu.
func (r *run) over(fate *crash, crashed bool) {
	how := "ended"
	if crashed {
		how = "crashed"
	}
	for _, token := range fate.taken() {
		r.ended[token] = how
	}
}

// gaveUp counts a delivery that gave up waiting for the claims it found
// held, by what held them: a settle still running, or a unit that had
// crashed or ended. The caller holds r.mu.
func (r *run) gaveUp(held []string) {
	how := ""
	for _, token := range held {
		how = max(how, r.ended[token]) // "" < "crashed" < "ended": a left claim tells most
	}
	switch how {
	case "":
		r.stats.BusyLive++
	case "crashed":
		r.stats.BusyDead++
	default:
		r.stats.BusyLeft++
	}
}

// settleVerdict does what the embedded queue's consumer does with a
// verdict, but for acknowledging, which the caller decides: a dead message
// goes to the dead letters; a retry is returned.
func (r *run) settleVerdict(ctx context.Context, m engagement.Message, v engagement.Verdict) error {
	switch v.Outcome {
	case engagement.Dead:
		if err := r.sys.dead.DeadLetter(ctx, m, v.Err); err != nil {
			return fault.Wrap(fault.Transient, err)
		}
		return nil
	case engagement.Retry:
		return v.Err
	}
	return nil
}

// sweep runs a tick or a reconcile through the sweep function's entry.
func (r *run) sweep(ctx context.Context, s *sweep.Sweeper, mode string, seq int) error {
	r.mu.Lock()
	r.unit++
	p := crashTick
	if mode == "reconcile" {
		p = crashRecon
		r.stats.Reconciles++
	} else {
		r.stats.Ticks++
	}
	r.mu.Unlock()
	uctx, fate := withCrash(ctx, r.crashPlan(p, 4, mode, seq))
	sctx, cancel := r.deadline(uctx)
	sum, err := s.Run(sctx, sweep.Input{Mode: mode})
	cancel()
	dead, at := fate.state()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || sum.Errors > 0 || !sum.Complete {
		r.failures++
	}
	r.over(fate, dead)
	if dead {
		r.stats.Crashes++
	}
	r.stats.SweepLeft += len(fate.metHeld())
	for _, a := range sum.Accounts {
		who := a.Contractor
		if who == "" {
			who = r.label(a.UserID)
		} else if e, ok := r.byEmail[who]; ok {
			who = e
		}
		r.linef(who, "%s: %s %s %s (%s)", mode, a.Action, who, a.Group, a.Reason)
	}
	if sum.Skipped {
		r.linef("", "%s skipped: another %s holds the lease", mode, mode)
	}
	if dead {
		r.linef("", "%s crashed %s", mode, at)
	}
	if err != nil {
		r.linef("", "%s stopped: %v", mode, err)
	}
	return nil
}

// admin acts on the tenant directly, as an administrator in the portal
// does. An action that does not apply (no account, already a member, not
// enabled, not a guest) is skipped.
func (r *run) admin(st Step) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.sc.Entity(st.Owner)
	u, ok := r.sys.tenant.UserByMail(e.Email)
	gid := Groups[st.Group]
	did := false
	switch {
	case !ok:
	case st.Admin == AddGhost:
		did = r.sys.tenant.AddMember(gid, u.ID) == nil
	case st.Admin == RemoveMember:
		did = r.sys.tenant.RemoveMember(gid, u.ID) == nil
	case st.Admin == Disable && u.AccountEnabled:
		did = r.sys.tenant.SetAccountEnabled(u.ID, false) == nil
		r.adminDisabled[strings.ToLower(u.ID)] = r.clock.Now()
	case st.Admin == Convert && strings.EqualFold(u.UserType, "Guest"):
		did = r.sys.tenant.SetUserType(u.ID, "Member") == nil
	case st.Admin == Delete:
		did = r.sys.tenant.DeleteUser(u.ID) == nil
	}
	what := st.Admin.String()
	if st.Admin == AddGhost || st.Admin == RemoveMember {
		what += " " + st.Group
	}
	if !did {
		r.stats.AdminSkipped++
		r.linef(e.ID, "admin (skipped, does not apply): %s %s", what, e.ID)
		return
	}
	r.stats.Admin[st.Admin.String()]++
	r.linef(e.ID, "admin: %s %s (account %s)", what, e.ID, u.ID)
}

// settle is the final phase: faults cleared and no more crashes or lost
// acknowledgements. Each round moves the clock past every lease, queue
// backoff and tick backoff (the first round two hours past the random
// phase, then an hour and a minute more each round), replays the dead
// letters (an operator would, once the cause is fixed), drains the queue,
// and runs tick, reconcile (ghost grace 0) and tick, and drains again.
// It stops after the first clean round: no message or sweep failed, every
// sweep completed, and the queue is empty; the checks then judge the world
// at that round's time. A round that is not clean (stint failed
// somewhere) leads to another, up to settleRounds; then the world is
// judged as it is.
func (r *run) settle(ctx context.Context) error {
	r.settling, r.faultRate = true, 0
	r.sys.tenant.ClearFaults()
	r.clock.Set(T0.Add(Span + SettleGap))
	for round := 1; round <= settleRounds; round++ {
		if round > 1 {
			r.clock.Set(r.clock.Now().Add(time.Hour + time.Minute))
		}
		r.stats.SettleRounds = round
		r.failures = 0
		r.linef("*", "settle round %d: faults off, no more crashes, clock at %s", round, stamp(r.clock.Now()))
		dead, err := r.sys.queue.DeadLetters(ctx)
		if err != nil {
			return err
		}
		for _, d := range dead {
			r.stats.Replayed++
			r.linef(r.byEmail[d.Group], "replay dead letter %s", d.ID)
			if err := r.sys.queue.Replay(ctx, d.Seq); err != nil {
				return err
			}
		}
		for _, f := range []func() error{
			func() error { return r.drain(ctx) },
			func() error { return r.sweep(ctx, r.sys.final, "tick", 0) },
			func() error { return r.sweep(ctx, r.sys.final, "reconcile", 0) },
			func() error { return r.sweep(ctx, r.sys.final, "tick", 0) },
			func() error { return r.drain(ctx) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		queued, err := r.sys.queue.Len(ctx)
		if err != nil {
			return err
		}
		if r.failures == 0 && queued == 0 {
			return nil
		}
		r.linef("*", "settle round %d not clean: %d failures, %d messages queued", round, r.failures, queued)
	}
	return nil
}

// eventID is the event id in a message id (the event's key: its source, a
// space, its id).
func eventID(key string) string {
	if _, id, ok := strings.Cut(key, " "); ok {
		return id
	}
	return key
}
