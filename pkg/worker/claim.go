package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Settles of one contractor never overlap. A settle claims the contractor
// — writes its claim on the contractor record, on the record's version —
// before it reads the engagements or touches Entra, and its commit releases
// the claim. So no two actors (an event, the tick, the reconcile, two
// replicas) plan from the same records, and none writes to Entra what
// another's plan contradicts: an event that ends an engagement while the
// tick re-grants it waits for the tick, then ends it from the tick's result.
//
// A claim lasts as long as its holder may work — claimTTL, or less when
// the holder's own context ends sooner — plus claimMargin, and the holder's
// Entra calls stop at the end of that work time. A claim still held after
// it expires was left by a holder that died mid-way (a crash, a timeout):
// the next settle takes over, and first reads the account from Entra (its
// groups and sign-in), since the records cannot say how far the dead one
// got.
const (
	claimTTL    = 2 * time.Minute
	claimMargin = 5 * time.Second
	// DefaultClaimWait is how long an event waits for another settle of its
	// contractor to finish (Handler.ClaimWait).
	DefaultClaimWait = 15 * time.Second
)

// claim is a contractor held by this settle.
type claim struct {
	c engagement.Contractor
	// tookOver is set when the previous claim had expired unreleased.
	tookOver bool
	// ctx ends when this settle must stop touching Entra.
	ctx    context.Context
	cancel context.CancelFunc
}

// claim takes the contractor for one settle, waiting up to wait for
// another settle to finish; a contractor still held after that is a
// transient failure (a busyError).
func (h *Handler) claim(ctx context.Context, key string, wait time.Duration) (claim, error) {
	token := newToken()
	start := time.Now()
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		c, err := h.contractor(ctx, key)
		if err != nil {
			return claim{}, err
		}
		now := h.Now()
		if c.ClaimedBy != "" && now.Before(c.ClaimedUntil) {
			// Out of patience or out of time, the answer is the same: busy,
			// and for how long, which is the wait before trying again.
			if time.Since(start) >= wait || late(ctx, delay) {
				return claim{}, &busyError{key: key, until: c.ClaimedUntil, wait: c.ClaimedUntil.Sub(now)}
			}
			if err := pause(ctx, delay); err != nil {
				return claim{}, fault.Wrap(fault.Transient, err)
			}
			continue
		}
		work := claimTTL
		if d, ok := ctx.Deadline(); ok {
			work = min(work, time.Until(d))
		}
		tookOver := c.ClaimedBy != ""
		c.ClaimedBy, c.ClaimedUntil = token, now.Add(work+claimMargin)
		stored, err := h.Ledger.PutContractor(ctx, c)
		if fault.Is(err, fault.Conflict) {
			continue // another actor moved first: look again
		}
		if err != nil {
			return claim{}, err
		}
		wctx, cancel := context.WithTimeout(ctx, work)
		return claim{c: stored, tookOver: tookOver, ctx: wctx, cancel: cancel}, nil
	}
}

// release gives a claim back when the settle ends without a commit (a
// duplicate, a refused event, a failed read). Best effort: a claim not
// released expires.
func (h *Handler) release(ctx context.Context, cl claim) {
	cl.cancel()
	c := unclaimed(cl.c)
	if _, err := h.Ledger.PutContractor(ctx, c); err != nil {
		h.Log.WarnContext(ctx, "worker: claim not released; it expires by itself", "contractor", c.Key, "until", cl.c.ClaimedUntil, "error", err.Error())
	}
}

// unclaimed is c with its claim released.
func unclaimed(c engagement.Contractor) engagement.Contractor {
	c.ClaimedBy, c.ClaimedUntil = "", time.Time{}
	return c
}

// busyError says another settle holds the contractor.
type busyError struct {
	key   string
	until time.Time
	wait  time.Duration
}

func (e *busyError) Error() string {
	return fmt.Sprintf("contractor %s is being settled by another worker (its claim runs until %s); tried again later",
		e.key, e.until.UTC().Format(time.RFC3339))
}

// FaultCode: worth trying again once the other settle is done.
func (e *busyError) FaultCode() fault.Code { return fault.Transient }

// RetryAfter is how long the other settle's claim still runs: the wait
// before the message is worth handling again.
func (e *busyError) RetryAfter() time.Duration { return e.wait }

// IsBusy reports whether err says another settle holds the contractor:
// the tick and the reconcile leave such a contractor to that settle.
func IsBusy(err error) bool {
	_, ok := err.(*busyError)
	return ok
}

// takeOver brings a contractor record left by a settle that died mid-way
// in line with the account as Entra holds it: its groups, its sign-in, or
// its absence. A disabled guest was disabled by stint when the record says
// so, or when the dead settle had written that it was about to; otherwise
// by an administrator, and stint will not re-enable it. When the recorded
// account is gone, or none was recorded, the person is looked up: the dead
// settle may have invited them (afresh). What the dead settle did and
// never recorded is written to the trail now, as found: user.found for
// the account it invited, group.found for each group it added,
// group.removed for each it took away.
func (h *Handler) takeOver(ctx context.Context, c engagement.Contractor, email string) (engagement.Contractor, []engagement.AuditEntry, error) {
	var log []engagement.AuditEntry
	note := func(action engagement.Action, format string, args ...any) {
		log = append(log, engagement.AuditEntry{Action: action, Detail: fmt.Sprintf(format, args...)})
	}
	keys := slices.Sorted(maps.Keys(h.Settings.Groups))
	gids := make([]string, len(keys))
	for i, k := range keys {
		gids[i] = h.Settings.Groups[k]
	}
	var u engagement.User
	var in []string
	err := fault.Errorf(fault.NotFound, "no account recorded")
	if c.UserID != "" {
		u, in, err = h.Directory.Account(ctx, c.UserID, gids)
		if fault.Is(err, fault.NotFound) {
			note(engagement.UserGone, "took over an interrupted settle: account %s no longer exists", c.UserID)
			c = engagement.Contractor{Key: c.Key, Version: c.Version, ClaimedBy: c.ClaimedBy, ClaimedUntil: c.ClaimedUntil}
		}
	}
	if fault.Is(err, fault.NotFound) && email != "" {
		var found engagement.User
		found, err = h.Directory.FindUser(ctx, email)
		if err == nil {
			c.UserID, c.Guest = found.ID, found.Guest
			u, in, err = h.Directory.Account(ctx, c.UserID, gids)
		}
		if err == nil {
			note(engagement.UserFound, "took over an interrupted settle: found account %s for %s", c.UserID, email)
		}
	}
	if fault.Is(err, fault.NotFound) {
		return c, log, nil // nobody to take over: the plan starts from nothing
	}
	if err != nil {
		return c, log, err
	}
	recorded := c.Granted
	c.Granted = nil
	for i, gid := range gids {
		if slices.Contains(in, gid) {
			c.Granted = append(c.Granted, keys[i])
			if !slices.Contains(recorded, keys[i]) {
				note(engagement.GroupFound, "took over an interrupted settle: account %s is already in %s", c.UserID, keys[i])
			}
		} else if slices.Contains(recorded, keys[i]) {
			note(engagement.GroupRemoved, "took over an interrupted settle: account %s is no longer in %s", c.UserID, keys[i])
		}
	}
	c.Guest = u.Guest
	switch {
	case u.Enabled:
		c.DisabledByStint = false
		if c.Guest {
			c.Blocked = false
		}
	case c.DisabledByStint || c.Disabling:
		c.DisabledByStint, c.Blocked = true, true
	default:
		c.Blocked = true // disabled, not by stint
	}
	c.Disabling = false
	note(engagement.SettleTookOver, "took over an interrupted settle: account %s is %s, in %v", c.UserID, enabledWord(u.Enabled), c.Granted)
	return c, log, nil
}

func enabledWord(enabled bool) string {
	if enabled {
		return "enabled"
	}
	return "disabled"
}

func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// late reports whether ctx ends within d.
func late(ctx context.Context, d time.Duration) bool {
	end, ok := ctx.Deadline()
	return ok && time.Until(end) < d
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
