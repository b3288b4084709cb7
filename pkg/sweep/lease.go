package sweep

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// A tick and a reconcile each run under a lease in the ledger ("sweep/tick",
// "sweep/reconcile"), so that two of one kind never overlap: a schedule
// that fires while the last run is still going (EventBridge fires every
// minute whatever runs), two replicas of stint serve. A lease lasts
// leaseTTL and is renewed every leaseTTL/3 while the run goes; a holder that
// dies loses it within leaseTTL, and the next run takes it. A run that
// finds the lease held does nothing and says so in its summary.
const leaseTTL = time.Minute

// holdLease takes the lease for one run and keeps it until release is
// called; the returned context ends if the lease is lost (another run took
// it over: this one was too slow to renew it).
func (s *Sweeper) holdLease(ctx context.Context, mode string) (context.Context, func(), bool, error) {
	name, holder := "sweep/"+mode, newHolder()
	now := s.Now()
	ok, err := s.Ledger.Lease(ctx, name, holder, now, now.Add(leaseTTL))
	if err != nil || !ok {
		return ctx, func() {}, false, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				now := s.Now()
				if ok, err := s.Ledger.Lease(ctx, name, holder, now, now.Add(leaseTTL)); err == nil && !ok {
					s.Log.ErrorContext(ctx, "sweep: lease lost to another run; stopping", "mode", mode)
					cancel()
					return
				}
			}
		}
	}()
	release := func() {
		close(done)
		cancel()
		if err := s.Ledger.Release(context.WithoutCancel(ctx), name, holder); err != nil {
			s.Log.WarnContext(ctx, "sweep: lease not released; it expires by itself", "mode", mode, "error", err.Error())
		}
	}
	return ctx, release, true, nil
}

func newHolder() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
