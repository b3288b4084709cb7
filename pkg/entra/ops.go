package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/requestlog"
)

// The permissions each operation needs, named in its 403 errors.
var (
	permReadUsers     = ReadUsers.Name
	permInvite        = InviteGuests.Name
	permMembership    = GroupMembership.Name
	permEnableDisable = EnableDisable.Name
	permRevoke        = RevokeSessions.Name
)

// userFields are the properties stint reads; userType, accountEnabled and
// externalUserState come back only when named.
var userFields = []string{"id", "displayName", "mail", "userPrincipalName", "userType", "accountEnabled", "externalUserState", "createdDateTime"}

// PageSize is the members page size, Graph's maximum.
const PageSize = 999

// FindUser looks the person up by mail, otherMails or guest UPN, in one
// request: https://learn.microsoft.com/graph/api/user-list
//
// Entra builds a guest's UPN from the invited address with "@" replaced by
// "_" ("ana_partner.example#EXT#@…"), which more than one address can give
// ("ann_x@y.example" and "ann@x_y.example"). So a user found by UPN alone is
// this person only when no mail of theirs names another address; and more
// than one match is a conflict: stint never guesses.
func (c *Client) FindUser(ctx context.Context, email string) (engagement.User, error) {
	q := quote(email)
	filter := fmt.Sprintf("mail eq %s or otherMails/any(m:m eq %s) or startsWith(userPrincipalName,%s)", q, q, quote(guestUPNPrefix(email)))
	top := int32(10)
	ctx, last := call(ctx)
	resp, err := c.graph.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: &filter, Select: append(slices.Clone(userFields), "otherMails"), Top: &top},
	})
	op := "find user " + email
	if err != nil {
		return engagement.User{}, classify(err, last, op, permReadUsers)
	}
	var found []engagement.User
	for _, m := range resp.GetValue() {
		if u := toUser(m); isPerson(u, email) {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return engagement.User{}, fault.Errorf(fault.NotFound, "entra: %s: no user has this mail, other mail or guest UPN", op)
	case 1:
		return found[0], nil
	}
	return engagement.User{}, fault.Errorf(fault.Conflict, "entra: %s: users %s and %s both match; resolve the duplicate in Entra, stint will not guess",
		op, found[0].ID, found[1].ID)
}

// isPerson reports whether u, returned by FindUser's filter, is the person
// with this address: by mail or other mail, or by the guest UPN the address
// gives when no mail of u's names another address.
func isPerson(u engagement.User, email string) bool {
	mails := append([]string{u.Mail}, u.OtherMails...)
	named := false
	for _, m := range mails {
		if strings.EqualFold(m, email) {
			return true
		}
		named = named || m != ""
	}
	return !named && strings.HasPrefix(strings.ToLower(u.UserPrincipalName), strings.ToLower(guestUPNPrefix(email)))
}

// guestUPNPrefix is how Entra names a guest invited with this address:
// "ana_partner.example#EXT#@" followed by the tenant's domain.
func guestUPNPrefix(email string) string {
	return strings.Replace(strings.ToLower(email), "@", "_", 1) + "#EXT#@"
}

// quote makes an OData string literal: single quotes, doubled inside.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Invite creates a guest: https://learn.microsoft.com/graph/api/invitation-post
// The invitation names inv.SponsorIDs as the guest's sponsors (Entra
// refuses an id it does not know: fault.Invalid). Callers look the user up first; Graph's behaviour on re-inviting an
// existing guest is not documented, and stint never relies on it.
func (c *Client) Invite(ctx context.Context, inv engagement.Invitation) (engagement.User, error) {
	body := models.NewInvitation()
	body.SetInvitedUserEmailAddress(&inv.Email)
	body.SetInviteRedirectUrl(&inv.RedirectURL)
	body.SetSendInvitationMessage(&inv.SendMessage)
	guest := "Guest"
	body.SetInvitedUserType(&guest)
	if inv.DisplayName != "" {
		body.SetInvitedUserDisplayName(&inv.DisplayName)
	}
	op := "invite " + inv.Email
	if len(inv.SponsorIDs) > 0 {
		// Sponsors on the invitation need no permission beyond
		// User.Invite.All (adding them later would need User.ReadWrite.All).
		sponsors, err := invitedSponsors(inv.SponsorIDs)
		if err != nil {
			return engagement.User{}, fault.Errorf(fault.Invalid, "entra: %s: %v", op, err)
		}
		body.SetInvitedUserSponsors(sponsors)
	}
	ctx, last := call(ctx)
	resp, err := c.graph.Invitations().Post(ctx, body, nil)
	if err != nil {
		return engagement.User{}, classify(err, last, op, permInvite)
	}
	c.wrote(ctx, op, last, slog.String("status", deref(resp.GetStatus())))
	u := engagement.User{Mail: inv.Email, DisplayName: inv.DisplayName, Guest: true, Enabled: true, ExternalState: "PendingAcceptance"}
	if invited := resp.GetInvitedUser(); invited != nil {
		u.ID = deref(invited.GetId())
	}
	if u.ID == "" {
		return u, fault.Errorf(fault.Internal, "entra: %s: Graph's answer names no invited user (request-id %s)", op, last.requestID)
	}
	return u, nil
}

// Group reads a group's identity and whether it can hold roles.
func (c *Client) Group(ctx context.Context, groupID string) (engagement.Group, error) {
	ctx, last := call(ctx)
	g, err := c.graph.Groups().ByGroupId(groupID).Get(ctx, &groups.GroupItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName", "isAssignableToRole"}},
	})
	if err != nil {
		return engagement.Group{}, classify(err, last, "read group "+groupID, permMembership)
	}
	return engagement.Group{ID: deref(g.GetId()), DisplayName: deref(g.GetDisplayName()), RoleAssignable: derefBool(g.GetIsAssignableToRole())}, nil
}

// AddMember adds a user to a group; "already a member" is success. Adds
// to one group by concurrent callers travel together (see coalescer):
// alone as a POST of members/$ref, several as one PATCH of
// members@odata.bind (bindMembers).
func (c *Client) AddMember(ctx context.Context, groupID, userID string) error {
	return c.adds.do(ctx, groupID, userID)
}

// addMember adds one user with a POST of members/$ref:
// https://learn.microsoft.com/graph/api/group-post-members
func (c *Client) addMember(ctx context.Context, groupID, userID string) error {
	ref := models.NewReferenceCreate()
	ref.SetOdataId(stringPtr(c.endpoint + "/v1.0/directoryObjects/" + userID))
	op := "add " + userID + " to group " + groupID
	ctx, last := call(ctx)
	err := c.graph.Groups().ByGroupId(groupID).Members().Ref().Post(ctx, ref, nil)
	if g, ok := inspect(err, last); ok && alreadyMember(g) {
		c.log.InfoContext(ctx, "entra: already a member", "op", op, "request_id", last.requestID)
		return nil
	}
	if err != nil {
		return classify(err, last, op, permMembership)
	}
	c.wrote(ctx, op, last)
	return nil
}

// bindMembers adds 2 to 20 users in one PATCH of the group's
// members@odata.bind: one write for all of them, all or none
// (https://learn.microsoft.com/graph/api/group-post-members, example 2).
// Graph refuses the whole PATCH when one of them is a member already (400
// "One or more added object references already exist…") or does not exist
// (404), without saying which; so then each is added alone (errAlone), and
// gets an answer that is theirs — already a member is success, an account
// gone is not found. A failure that is not about the members is every
// caller's answer as it is (failedWhole).
func (c *Client) bindMembers(ctx context.Context, groupID string, userIDs []string) []error {
	refs := make([]string, len(userIDs))
	for i, uid := range userIDs {
		refs[i] = c.endpoint + "/v1.0/directoryObjects/" + uid
	}
	body, _ := json.Marshal(map[string][]string{"members@odata.bind": refs}) // strings: cannot fail
	errs := make([]error, len(userIDs))
	op := fmt.Sprintf("add %d members to group %s", len(userIDs), groupID)
	callCtx, last := call(ctx)
	err := c.adapter.SendNoContent(callCtx, c.requestInfo(abstractions.PATCH, "/groups/"+groupID, body), errorMappings)
	if err == nil {
		c.wrote(callCtx, op, last, slog.Any("members", userIDs))
		return errs
	}
	cerr := classify(err, last, op, permMembership)
	each := failedWhole(cerr)
	if each == errAlone {
		c.log.InfoContext(ctx, "entra: a gathered add failed as a whole; each member is added alone", "op", op, "error", cerr.Error())
	}
	for i := range errs {
		errs[i] = each
	}
	return errs
}

// removeMembers removes 2 to 20 users in one $batch, answering for each:
// one request on the wire, though Graph still charges each removal as a
// write.
func (c *Client) removeMembers(ctx context.Context, groupID string, userIDs []string) []error {
	errs := make([]error, len(userIDs))
	var bulk *engagement.BulkError
	if err := c.RemoveMembers(ctx, groupID, userIDs); errors.As(err, &bulk) {
		for i, uid := range userIDs {
			errs[i] = bulk.Failed[uid]
		}
	} else if err != nil {
		for i := range errs {
			errs[i] = failedWhole(err)
		}
	}
	return errs
}

// failedWhole is each caller's answer when a gathered request failed as a
// whole: the failure itself when it is not about the users — Graph
// throttling or unavailable once the retries are spent, a permission
// missing — since making each change alone would send a throttled or
// failing Graph a request per user instead of one, and every caller's
// message is retried later; otherwise errAlone, each change made alone for
// an answer of its own.
func failedWhole(err error) error {
	if code := fault.CodeOf(err); code == fault.Transient || code == fault.Unauthorized {
		return err
	}
	return errAlone
}

// RemoveMember removes the membership; "not a member" is success.
// Removals from one group by concurrent callers travel together (see
// coalescer): alone as a DELETE, several in one $batch.
func (c *Client) RemoveMember(ctx context.Context, groupID, userID string) error {
	return c.removes.do(ctx, groupID, userID)
}

// removeMember removes one membership with a DELETE of members/{id}/$ref
// (the /$ref: without it Graph would delete the user):
// https://learn.microsoft.com/graph/api/group-delete-members
func (c *Client) removeMember(ctx context.Context, groupID, userID string) error {
	op := "remove " + userID + " from group " + groupID
	ctx, last := call(ctx)
	err := c.graph.Groups().ByGroupId(groupID).Members().ByDirectoryObjectId(userID).Ref().Delete(ctx, nil)
	if g, ok := inspect(err, last); ok && g.status == http.StatusNotFound {
		c.log.InfoContext(ctx, "entra: not a member", "op", op, "request_id", last.requestID)
		return nil
	}
	if err != nil {
		return classify(err, last, op, permMembership)
	}
	c.wrote(ctx, op, last)
	return nil
}

// SetAccountEnabled blocks or unblocks sign-in. Blocking is a Continuous
// Access Evaluation critical event: CAE-aware services drop the sessions.
func (c *Client) SetAccountEnabled(ctx context.Context, userID string, enabled bool) error {
	patch := models.NewUser()
	patch.SetAccountEnabled(&enabled)
	op := fmt.Sprintf("set accountEnabled=%v on %s", enabled, userID)
	ctx, last := call(ctx)
	if _, err := c.graph.Users().ByUserId(userID).Patch(ctx, patch, nil); err != nil {
		return classify(err, last, op, permEnableDisable)
	}
	c.wrote(ctx, op, last)
	return nil
}

// RevokeSessions revokes a member's sessions; for a guest it makes no call
// (see engagement.Directory).
func (c *Client) RevokeSessions(ctx context.Context, u engagement.User) error {
	if u.Guest {
		return nil
	}
	op := "revoke sessions of " + u.ID
	ctx, last := call(ctx)
	if _, err := c.graph.Users().ByUserId(u.ID).RevokeSignInSessions().PostAsRevokeSignInSessionsPostResponse(ctx, nil); err != nil {
		return classify(err, last, op, permRevoke)
	}
	c.wrote(ctx, op, last)
	return nil
}

// Members yields a group's user members, PageSize at a time, following
// Graph's nextLink verbatim.
func (c *Client) Members(ctx context.Context, groupID string) iter.Seq2[engagement.User, error] {
	return func(yield func(engagement.User, error) bool) {
		top := int32(PageSize)
		builder := c.graph.Groups().ByGroupId(groupID).Members().GraphUser()
		conf := &groups.ItemMembersGraphUserRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.ItemMembersGraphUserRequestBuilderGetQueryParameters{Select: userFields, Top: &top},
		}
		for page := 1; ; page++ {
			callCtx, last := call(ctx)
			resp, err := builder.Get(callCtx, conf)
			if err != nil {
				yield(engagement.User{}, classify(err, last, fmt.Sprintf("list members of group %s (page %d)", groupID, page), permMembership))
				return
			}
			for _, u := range resp.GetValue() {
				if !yield(toUser(u), nil) {
					return
				}
			}
			next := deref(resp.GetOdataNextLink())
			if next == "" {
				return
			}
			builder, conf = builder.WithUrl(next), nil
		}
	}
}

// wrote logs a successful write with its request-id and notes the id for
// the caller's RequestLog.
func (c *Client) wrote(ctx context.Context, op string, last *lastResponse, attrs ...any) {
	requestlog.Note(ctx, last.requestID)
	c.log.InfoContext(ctx, "entra: write", append([]any{"op", op, "status", last.status, "request_id", last.requestID}, attrs...)...)
}

func toUser(u models.Userable) engagement.User {
	out := engagement.User{
		ID:                deref(u.GetId()),
		DisplayName:       deref(u.GetDisplayName()),
		Mail:              deref(u.GetMail()),
		UserPrincipalName: deref(u.GetUserPrincipalName()),
		Guest:             strings.EqualFold(deref(u.GetUserType()), "Guest"),
		Enabled:           derefBool(u.GetAccountEnabled()),
		ExternalState:     deref(u.GetExternalUserState()),
		OtherMails:        u.GetOtherMails(),
	}
	if t := u.GetCreatedDateTime(); t != nil {
		out.CreatedAt = t.UTC()
	}
	return out
}

func derefBool(b *bool) bool { return b != nil && *b }

func stringPtr(s string) *string { return &s }

// errorMappings decode Graph's error bodies on raw requests.
var errorMappings = abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// requestInfo builds a raw request for what the typed builders do not
// cover ($batch, members@odata.bind).
func (c *Client) requestInfo(method abstractions.HttpMethod, path string, body []byte) *abstractions.RequestInformation {
	info := abstractions.NewRequestInformation()
	info.Method = method
	info.UrlTemplate = "{+baseurl}" + path
	info.PathParameters = map[string]string{"baseurl": c.adapter.GetBaseUrl()}
	info.Headers.Add("Accept", "application/json")
	if body != nil {
		info.Content = body
		info.Headers.Add("Content-Type", "application/json")
	}
	return info
}
