package engagement

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/stintdev/stint/pkg/fault"
)

// Directory is what stint needs from Entra ID, in domain terms. The Graph
// adapter (pkg/entra) implements it. Writes are idempotent: adding a member
// who already is one, and removing one who is not, succeed.
//
// Errors carry fault codes: NotFound, Unauthorized (a permission is
// missing; the message names it), Transient (with the wait the service asked
// for), Conflict, Invalid.
type Directory interface {
	// FindUser looks a person up by email: mail, otherMails, or the guest
	// UPN built from the address. NotFound when nobody matches; Conflict
	// when several users do (stint never guesses).
	FindUser(ctx context.Context, email string) (User, error)
	// Invite invites a guest and returns the user Entra created.
	Invite(ctx context.Context, inv Invitation) (User, error)
	// Group reads an allow-listed group, to check it before use.
	Group(ctx context.Context, groupID string) (Group, error)
	// AddMember adds a user to a group.
	AddMember(ctx context.Context, groupID, userID string) error
	// RemoveMember removes a user from a group (the membership, never the
	// user).
	RemoveMember(ctx context.Context, groupID, userID string) error
	// RemoveMembers does the same for many users, in as few requests as
	// the service allows; failures are per user (*BulkError). (Additions
	// of many contractors are gathered by the adapter from AddMember.)
	RemoveMembers(ctx context.Context, groupID string, userIDs []string) error
	// SetAccountEnabled blocks (false) or unblocks (true) sign-in.
	SetAccountEnabled(ctx context.Context, userID string, enabled bool) error
	// RemoveAndRead removes a user from groups and reads the account as it
	// is now, in as few requests as the service allows (one, for up to 19
	// groups): whether it is a guest, and whether its sign-in is enabled,
	// decide how its access ends — and the account may have changed since
	// stint last looked (an administrator converted a guest to a member,
	// or blocked it). NotFound when the account no longer exists; failed
	// removals come back as a *BulkError keyed by group id.
	RemoveAndRead(ctx context.Context, userID string, groupIDs []string) (User, error)
	// Account reads an account as it is now, and which of groupIDs it is a
	// member of, in one request (more for over 19 groups): where a settle
	// that takes over from an interrupted one starts, since the records
	// cannot say how far the interrupted one got. NotFound when the account
	// no longer exists.
	Account(ctx context.Context, userID string, groupIDs []string) (User, []string, error)
	// RevokeSessions invalidates a member's sign-in sessions. For a guest
	// it does nothing: guests sign in at their home tenant, whose sessions
	// Entra cannot revoke; block their sign-in instead.
	RevokeSessions(ctx context.Context, u User) error
	// Members yields the user members of a group, page by page.
	Members(ctx context.Context, groupID string) iter.Seq2[User, error]
}

// User is a directory account.
type User struct {
	ID                string
	DisplayName       string
	Mail              string
	OtherMails        []string
	UserPrincipalName string
	// Guest is true for userType Guest.
	Guest bool
	// Enabled is accountEnabled: false when sign-in is blocked.
	Enabled bool
	// ExternalState is externalUserState for guests: "PendingAcceptance"
	// until the invitation is redeemed, then "Accepted".
	ExternalState string
	CreatedAt     time.Time
}

// Group is a directory group.
type Group struct {
	ID          string
	DisplayName string
	// RoleAssignable groups can hold Entra roles; stint refuses to manage
	// them (isAssignableToRole).
	RoleAssignable bool
}

// Invitation asks Entra to create a guest.
type Invitation struct {
	Email       string
	DisplayName string
	// RedirectURL is where the guest lands after redeeming
	// (STINT_INVITE_REDIRECT_URL).
	RedirectURL string
	// SendMessage lets Entra email the invitation (STINT_SEND_INVITATION).
	SendMessage bool
	// SponsorIDs are object ids of users (or groups) in the tenant to
	// record as the guest's sponsors; at most 5.
	SponsorIDs []string
}

// SignInActivity is when an account last signed in, as Entra records it;
// a zero time means never.
type SignInActivity struct {
	// LastInteractive is the last interactive sign-in, failed ones
	// included.
	LastInteractive time.Time
	// LastNonInteractive is the last sign-in a client made on the user's
	// behalf (token refresh and the like).
	LastNonInteractive time.Time
	// LastSuccessful is the last successful sign-in of either kind.
	LastSuccessful time.Time
}

// SignIn is one entry of the tenant's sign-in log.
type SignIn struct {
	At          time.Time
	Success     bool
	Interactive bool
	// App is the application's display name; IP the client's address.
	App string
	IP  string
	// FailureReason is Entra's reason for a failed sign-in.
	FailureReason string
}

// BulkError reports the users a bulk write failed for; the others succeeded.
type BulkError struct {
	Op     string
	Failed map[string]error
}

func (e *BulkError) Error() string {
	ids := slices.Sorted(maps.Keys(e.Failed))
	if len(ids) == 0 {
		return e.Op + ": no failures"
	}
	first := "user " + ids[0] + ": " + e.Failed[ids[0]].Error()
	if len(ids) == 1 {
		return e.Op + ": " + first
	}
	return e.Op + ": " + strconv.Itoa(len(ids)) + " users failed; the first, " + first
}

// CheckGroups reads every allow-listed group (STINT_GROUPS, key to object
// id) and refuses the configuration if one is missing, unreadable, or
// role-assignable: membership of such a group can confer Entra roles, which
// stint must never hand out.
func CheckGroups(ctx context.Context, dir Directory, groups map[string]string) error {
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		id := groups[key]
		g, err := dir.Group(ctx, id)
		if err != nil {
			return fmt.Errorf("STINT_GROUPS: %s=%s: %w", key, id, err)
		}
		if g.RoleAssignable {
			return fault.Errorf(fault.Invalid, "STINT_GROUPS: %s=%s (%q) is role-assignable (isAssignableToRole); stint refuses to manage groups that can hold Entra roles: use a group without roles", key, id, g.DisplayName)
		}
	}
	return nil
}
