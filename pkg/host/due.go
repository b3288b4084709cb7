package host

import (
	"context"
	"time"

	"github.com/stintdev/stint/pkg/sweep"
)

// idleGap is how long the tick's scheduler waits after a tick that changed
// nothing before it runs another for work that is still due: a contractor
// a worker holds (the worker applies the due transition itself), or
// another replica's tick holding the lease. Without it, such a record would
// have the tick run back to back.
const idleGap = 5 * time.Second

// scheduleTick runs the tick when the next start or end comes due, as the
// ledger's due index says, and at least once every period (the safety
// tick). The index is read again after every tick and whenever a handled
// message may have changed a record (h.changed), so an end is acted on
// within a second or two of its time rather than up to a period late.
//
// Only what this process handles re-arms the timer: a record changed by
// another replica (or by a worker in another process, --only sweep) is seen
// at the next tick of any kind, so on such a deployment an end that an
// event moved to within the coming minute may wait for the safety tick.
func (h *Host) scheduleTick(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	timer := time.NewTimer(every)
	defer timer.Stop()
	var notBefore time.Time
	for {
		wait := max(h.untilDue(ctx, every), time.Until(notBefore))
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-h.changed:
			continue
		case <-timer.C:
		}
		sum := h.sweep(ctx, "tick", every)
		notBefore = time.Time{}
		if !changedAnything(sum) {
			notBefore = time.Now().Add(idleGap)
		}
	}
}

// untilDue is how long until the earliest due start, end or retry in the
// ledger, at most every; zero when one is due already. When the ledger
// cannot be read it waits the whole period (the tick will report why).
func (h *Host) untilDue(ctx context.Context, every time.Duration) time.Duration {
	due, err := h.Ledger.Due(ctx, time.Now().Add(every), 1)
	if err != nil {
		h.o.Log.Warn("stint: the next due start or end not read; the tick runs on its period", "error", err.Error())
		return every
	}
	if len(due) == 0 {
		return every
	}
	return max(0, time.Until(due[0].DueAt()))
}

// changedAnything reports whether a tick settled anyone: when it did, more
// may be due behind them, and the next tick may run at once. A tick that
// failed, was skipped or only met contractors held elsewhere did not.
func changedAnything(s sweep.Summary) bool {
	return s.Activated+s.Expired+s.Added+s.Removed+s.Disabled > 0
}
