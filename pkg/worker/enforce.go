package worker

import (
	"context"
	"fmt"
	"slices"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// enforce carries a plan out in the directory and returns the contractor
// record as it now stands, with one audit entry per change. It stops at the
// first failure; what it did before is idempotent and is done again, without
// effect, when the event is retried.
//
// The order matters: the user exists before groups are touched; an account
// is re-enabled before it regains groups, and blocked only after it lost
// them.
func (h *Handler) enforce(ctx context.Context, c engagement.Contractor, e engagement.Engagement, plan engagement.Plan, memo *memory) (engagement.Contractor, []engagement.AuditEntry, error) {
	var log []engagement.AuditEntry
	note := func(action, format string, args ...any) {
		log = append(log, engagement.AuditEntry{Action: action, Detail: fmt.Sprintf(format, args...)})
	}
	dir := h.Directory
	invited := false
	if plan.EnsureUser {
		u, err := dir.FindUser(ctx, e.Email)
		switch {
		case fault.Is(err, fault.NotFound):
			u, err = dir.Invite(ctx, engagement.Invitation{Email: e.Email, DisplayName: e.DisplayName,
				RedirectURL: h.Settings.RedirectURL, SendMessage: h.Settings.SendInvitation})
			if err != nil {
				return c, log, err
			}
			invited = true
			note("user.invited", "invited %s as guest %s (invitation email sent: %v)", e.Email, u.ID, h.Settings.SendInvitation)
		case err != nil:
			return c, log, err
		default:
			note("user.found", "found %s as %s %s", e.Email, userType(u), u.ID)
		}
		c.UserID, c.Guest = u.ID, u.Guest
	}
	if c.UserID == "" {
		// Nothing granted and nobody to block: the plan has no work left.
		return c, log, nil
	}
	for _, key := range plan.Add {
		gid, ok := h.Settings.Groups[key]
		if !ok {
			return c, log, fault.Errorf(fault.Invalid, "access key %q is not configured in STINT_GROUPS", key)
		}
		if err := dir.AddMember(ctx, gid, c.UserID); err != nil {
			switch {
			case invited && fault.Is(err, fault.NotFound):
				// A guest invited a moment ago may not have reached every
				// directory replica yet: worth another try, not a dead letter.
				err = fault.Wrap(fault.Transient, err)
			case fault.Is(err, fault.NotFound):
				// The account stint knew was deleted: forget it, so the next
				// try looks the person up (and invites them) afresh.
				note("user.gone", "account %s no longer exists; it will be looked up again", c.UserID)
				c.UserID = ""
				err = fault.Wrap(fault.Transient, err)
			}
			return c, log, err
		}
		c.Granted = append(c.Granted, key)
		note("group.added", "added to %s (%s)", key, gid)
	}
	// Re-enabled only once the groups are in place, and recorded at once:
	// a failure before leaves the account blocked (safe), and never an
	// enabled account that stint believes blocked.
	if plan.Unblock {
		if c.DisabledByStint || memo.disabledByStint {
			if err := dir.SetAccountEnabled(ctx, c.UserID, true); err != nil {
				return c, log, err
			}
			note("account.enabled", "re-enabled sign-in: stint had blocked it")
		}
		c.Blocked, c.DisabledByStint, memo.disabledByStint = false, false, false
	}
	for _, key := range plan.Remove {
		gid, ok := h.Settings.Groups[key]
		if !ok {
			// The key left the allow-list since it was granted: stint may
			// no longer touch that group. The reconciler's report names it.
			h.Log.WarnContext(ctx, "worker: granted access key no longer configured; membership left to an administrator", "contractor", c.Key, "key", key)
			note("group.unmanaged", "access key %s is no longer in STINT_GROUPS; its group was not touched", key)
		} else if err := dir.RemoveMember(ctx, gid, c.UserID); err != nil {
			return c, log, err
		} else {
			note("group.removed", "removed from %s (%s)", key, gid)
		}
		c.Granted = slices.DeleteFunc(c.Granted, func(k string) bool { return k == key })
	}
	if plan.Block {
		if c.Guest {
			wasEnabled, err := dir.BlockSignIn(ctx, c.UserID)
			if fault.Is(err, fault.NotFound) {
				note("account.gone", "the account no longer exists in the directory: nothing to block")
				err = nil
			}
			if err != nil {
				return c, log, err
			}
			memo.disabledByStint = memo.disabledByStint || wasEnabled
			c.DisabledByStint = c.DisabledByStint || memo.disabledByStint
			if wasEnabled {
				note("account.disabled", "blocked sign-in: no engagement left (guest sessions live at the home tenant and cannot be revoked)")
			} else {
				note("account.already_disabled", "sign-in was already blocked, not by stint: stint will not re-enable it")
			}
		} else {
			if err := dir.RevokeSessions(ctx, engagement.User{ID: c.UserID}); err != nil {
				return c, log, err
			}
			note("sessions.revoked", "revoked sign-in sessions: no engagement left (member account left enabled)")
		}
		c.Blocked = true
	}
	slices.Sort(c.Granted)
	c.Granted = slices.Compact(c.Granted)
	return c, log, nil
}

func userType(u engagement.User) string {
	if u.Guest {
		return "guest"
	}
	return "member"
}
