package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// enforcement carries one plan out in the directory, step by step, keeping
// the contractor record as it stands and one audit entry per change. It
// stops at the first failure; what it did before is idempotent and is done
// again, without effect, when the work is retried.
//
// The order matters: the user exists before groups are touched; an account
// is re-enabled only once it holds its groups, and blocked only as it
// loses them.
type enforcement struct {
	h    *Handler
	c    engagement.Contractor
	memo *memory
	log  []engagement.AuditEntry
	// invited is set when this run invited the user.
	invited bool
}

// enforce runs the plan's steps and returns the contractor record as it now
// stands, with one audit entry per change.
func (h *Handler) enforce(ctx context.Context, c engagement.Contractor, profile engagement.Engagement, plan engagement.Plan, memo *memory) (engagement.Contractor, []engagement.AuditEntry, error) {
	c.Granted = slices.Clone(c.Granted) // the steps edit it in place
	w := &enforcement{h: h, c: c, memo: memo}
	err := w.run(ctx, profile, plan)
	slices.Sort(w.c.Granted)
	w.c.Granted = slices.Compact(w.c.Granted)
	return w.c, w.log, err
}

func (w *enforcement) run(ctx context.Context, profile engagement.Engagement, plan engagement.Plan) error {
	if plan.EnsureUser {
		if err := w.ensureUser(ctx, profile); err != nil {
			return err
		}
	}
	if w.c.UserID == "" {
		return nil // nothing granted and nobody to block: no work left
	}
	err := w.addGroups(ctx, plan.Add)
	if errors.Is(err, errGone) {
		// The account stint knew was deleted: find the person, or invite
		// them, afresh — once — and give them every group they should hold.
		if err = w.ensureUser(ctx, profile); err == nil {
			err = w.addGroups(ctx, plan.Access)
		}
		if errors.Is(err, errGone) {
			err = fault.Wrap(fault.Transient, err)
		}
	}
	if err != nil {
		return err
	}
	if plan.Unblock {
		if err := w.unblock(ctx); err != nil {
			return err
		}
	}
	if plan.Block {
		return w.block(ctx, plan.Remove)
	}
	return w.removeGroups(ctx, plan.Remove)
}

func (w *enforcement) note(action engagement.Action, format string, args ...any) {
	w.log = append(w.log, engagement.AuditEntry{Action: action, Detail: fmt.Sprintf(format, args...)})
}

// sponsor is the Entra object id of the engagement's sponsor, when the
// event names one who has an account in the tenant (a member, not a
// guest): Entra records them as the guest's sponsor through the
// invitation, which needs no permission beyond inviting. Anything else —
// no sponsor, not found, a lookup that failed — invites without one.
func (w *enforcement) sponsor(ctx context.Context, e engagement.Engagement) string {
	if e.Sponsor == "" {
		return ""
	}
	u, err := w.h.Directory.FindUser(ctx, e.Sponsor)
	if err != nil || u.Guest {
		return ""
	}
	return u.ID
}

// ensureUser finds the person, or invites them as a guest.
func (w *enforcement) ensureUser(ctx context.Context, e engagement.Engagement) error {
	dir, s := w.h.Directory, w.h.Settings
	u, err := dir.FindUser(ctx, e.Email)
	switch {
	case fault.Is(err, fault.NotFound):
		inv := engagement.Invitation{Email: e.Email, DisplayName: e.DisplayName, RedirectURL: s.RedirectURL, SendMessage: s.SendInvitation}
		sponsor := w.sponsor(ctx, e)
		if sponsor != "" {
			inv.SponsorIDs = []string{sponsor}
		}
		u, err = dir.Invite(ctx, inv)
		if err != nil {
			return err
		}
		w.invited = true
		w.note(engagement.UserInvited, "invited %s as guest %s (invitation email sent: %v; sponsor in Entra: %s)", e.Email, u.ID, s.SendInvitation, cmp.Or(sponsor, "none"))
	case err != nil:
		return err
	default:
		w.note(engagement.UserFound, "found %s as %s %s", e.Email, userType(u), u.ID)
	}
	w.c.UserID, w.c.Guest = u.ID, u.Guest
	return nil
}

func (w *enforcement) addGroups(ctx context.Context, keys []string) error {
	for _, key := range keys {
		gid, ok := w.h.Settings.Groups[key]
		if !ok {
			return fault.Errorf(fault.Invalid, "access key %q is not configured in STINT_GROUPS", key)
		}
		if slices.Contains(w.c.Granted, key) {
			continue
		}
		if err := w.h.Directory.AddMember(ctx, gid, w.c.UserID); err != nil {
			return w.gone(err)
		}
		w.c.Granted = append(w.c.Granted, key)
		w.note(engagement.GroupAdded, "added to %s (%s)", key, gid)
	}
	return nil
}

// errGone says that the account stint knew no longer exists.
var errGone = errors.New("the account no longer exists")

// gone reads a not-found from adding a member: a guest invited a moment ago
// may not have reached every directory replica yet (retry later); an
// account stint knew was deleted is forgotten with all stint applied to it
// (errGone: look the person up afresh).
func (w *enforcement) gone(err error) error {
	switch {
	case w.invited && fault.Is(err, fault.NotFound):
		return fault.Wrap(fault.Transient, err)
	case fault.Is(err, fault.NotFound):
		w.note(engagement.UserGone, "account %s no longer exists; the person is looked up again", w.c.UserID)
		w.c = engagement.Contractor{Key: w.c.Key, Version: w.c.Version}
		return fmt.Errorf("%w: %w", errGone, err)
	}
	return err
}

// unblock re-enables an account stint had disabled, and recorded at once:
// a failure before leaves the account blocked (safe), and never an enabled
// account that stint believes blocked. An account an administrator
// disabled stays disabled.
func (w *enforcement) unblock(ctx context.Context) error {
	if w.c.DisabledByStint || w.memo.disabledByStint {
		if err := w.h.Directory.SetAccountEnabled(ctx, w.c.UserID, true); err != nil {
			return err
		}
		w.note(engagement.AccountEnabled, "re-enabled sign-in: stint had blocked it")
	}
	w.c.Blocked, w.c.DisabledByStint, w.memo.disabledByStint = false, false, false
	return nil
}

// removeGroups takes the user out of groups while other engagements keep
// them in the directory.
func (w *enforcement) removeGroups(ctx context.Context, keys []string) error {
	for _, key := range keys {
		gid, ok := w.managed(ctx, key)
		if ok {
			if err := w.h.Directory.RemoveMember(ctx, gid, w.c.UserID); err != nil {
				return err
			}
			w.note(engagement.GroupRemoved, "removed from %s (%s)", key, gid)
		}
		w.c.Granted = without(w.c.Granted, key)
	}
	return nil
}

// without returns keys less key.
func without(keys []string, key string) []string {
	return slices.DeleteFunc(keys, func(k string) bool { return k == key })
}

// managed returns the group of an access key, or notes that the key left
// the allow-list since it was granted: stint may no longer touch that
// group, and the reconciler's report names it.
func (w *enforcement) managed(ctx context.Context, key string) (string, bool) {
	gid, ok := w.h.Settings.Groups[key]
	if !ok {
		w.h.Log.WarnContext(ctx, "worker: granted access key no longer configured; membership left to an administrator", "contractor", w.c.Key, "key", key)
		w.note(engagement.GroupUnmanaged, "access key %s is no longer in STINT_GROUPS; its group was not touched", key)
	}
	return gid, ok
}

// block ends the access of a contractor with no engagement left: it
// removes the groups and reads the account in one request, then decides
// from the account as it is now — an administrator may have converted a
// guest to a member, or blocked it, since stint last looked. A guest's
// sign-in is blocked, since Entra cannot revoke the sessions a guest holds
// at their home tenant; a member keeps sign-in (members are often
// employees with other reasons to sign in) and loses its sessions.
func (w *enforcement) block(ctx context.Context, keys []string) error {
	var gids []string
	byGroup := map[string]string{}
	for _, key := range keys {
		gid, ok := w.managed(ctx, key)
		if !ok {
			w.c.Granted = without(w.c.Granted, key)
			continue
		}
		gids, byGroup[gid] = append(gids, gid), key
	}
	u, err := w.h.Directory.RemoveAndRead(ctx, w.c.UserID, gids)
	if fault.Is(err, fault.NotFound) {
		w.accountGone()
		return nil
	}
	var bulk *engagement.BulkError
	if err != nil && !errors.As(err, &bulk) {
		return err
	}
	for _, gid := range gids {
		if bulk == nil || bulk.Failed[gid] == nil {
			w.note(engagement.GroupRemoved, "removed from %s (%s)", byGroup[gid], gid)
			w.c.Granted = without(w.c.Granted, byGroup[gid])
		}
	}
	if bulk != nil {
		return err
	}
	w.c.Guest = u.Guest
	if u.Guest {
		err = w.disable(ctx, u)
	} else {
		err = w.revoke(ctx, u)
	}
	if err == nil {
		w.c.Blocked = true
	}
	return err
}

// disable blocks a guest's sign-in, recording that stint did it — unless
// it was blocked already, by an administrator, whose block stint must never
// undo. The intention is written first (Contractor.Disabling) and stays
// written if the PATCH fails: a request whose answer was lost may still
// have disabled the account, and the next settle must know it was stint.
func (w *enforcement) disable(ctx context.Context, u engagement.User) error {
	switch {
	case u.Enabled:
		if err := w.intendToDisable(ctx); err != nil {
			return err
		}
		if err := w.h.Directory.SetAccountEnabled(ctx, u.ID, false); err != nil {
			return err
		}
		w.memo.disabledByStint = true
	case w.memo.disabledByStint || w.c.Disabling:
		// Disabled by stint in an attempt whose answer or record was lost:
		// its audit entry was lost with it.
	default:
		w.c.Disabling = false
		w.note(engagement.AccountAlreadyDisabled, "sign-in was already blocked, not by stint: stint will not re-enable it")
		return nil
	}
	w.c.DisabledByStint, w.c.Disabling = true, false
	w.note(engagement.AccountDisabled, "blocked sign-in: no engagement left (guest sessions live at the home tenant and cannot be revoked)")
	return nil
}

// intendToDisable writes, under the claim, that stint is about to disable
// the account: a settle taking over from this one, should it die before
// its commit, then knows who disabled it.
func (w *enforcement) intendToDisable(ctx context.Context) error {
	w.c.Disabling = true
	stored, err := w.h.Ledger.PutContractor(ctx, w.c)
	if fault.Is(err, fault.Conflict) {
		return errLedgerConflict // the claim expired and was taken over
	}
	if err != nil {
		return err
	}
	w.c = stored
	return nil
}

// revoke ends a member's sessions; its sign-in stays as it is. An account
// deleted since it was read has no sessions left to end.
func (w *enforcement) revoke(ctx context.Context, u engagement.User) error {
	err := w.h.Directory.RevokeSessions(ctx, u)
	if fault.Is(err, fault.NotFound) {
		w.accountGone()
		return nil
	}
	if err != nil {
		return err
	}
	w.note(engagement.SessionsRevoked, "revoked sign-in sessions: no engagement left (a member account keeps sign-in)")
	return nil
}

// accountGone forgets an account deleted behind stint's back while its
// access was ending: nothing is left to remove or block.
func (w *enforcement) accountGone() {
	w.note(engagement.AccountGone, "the account %s no longer exists in the directory: nothing to remove or block", w.c.UserID)
	w.c = engagement.Contractor{Key: w.c.Key, Blocked: true, Version: w.c.Version, ClaimedBy: w.c.ClaimedBy, ClaimedUntil: w.c.ClaimedUntil}
}

func userType(u engagement.User) string {
	if u.Guest {
		return "guest"
	}
	return "member"
}
