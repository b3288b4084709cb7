package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Users, sign-in sessions and invitations.

func (t *Tenant) routeUsers(c *gcall, segs []string) *gresp {
	switch {
	case len(segs) == 0 && c.method == http.MethodGet:
		return t.listUsers(c)
	case len(segs) == 1 && c.method == http.MethodGet:
		return t.getUser(c, segs[0])
	case len(segs) == 1 && c.method == http.MethodPatch:
		return t.patchUser(c, segs[0])
	case len(segs) == 0 || len(segs) == 1:
		return c.methodNotAllowed()
	case len(segs) == 2 && (strings.EqualFold(segs[1], "revokeSignInSessions") || strings.EqualFold(segs[1], "microsoft.graph.revokeSignInSessions")):
		if c.method != http.MethodPost {
			return c.methodNotAllowed()
		}
		return t.revokeSessions(c, segs[0])
	case len(segs) == 2 && (strings.EqualFold(segs[1], "checkMemberGroups") || strings.EqualFold(segs[1], "microsoft.graph.checkMemberGroups")):
		if c.method != http.MethodPost {
			return c.methodNotAllowed()
		}
		return t.checkMemberGroups(c, segs[0])
	case len(segs) == 2 && strings.EqualFold(segs[1], "sponsors"):
		if c.method != http.MethodGet {
			return c.methodNotAllowed()
		}
		return t.listSponsors(c, segs[0])
	}
	return c.noSegment(segs[1])
}

func (t *Tenant) listUsers(c *gcall) *gresp {
	if r := c.require(permReadUsers...); r != nil {
		return r
	}
	q, bad := c.listOptions("users", "users")
	if bad != nil {
		return bad
	}
	t.mu.Lock()
	users := t.dir.users
	start := sort.Search(len(users), func(i int) bool { return users[i].seq > q.after })
	page := make([]object, 0, min(q.top, len(users)-start))
	var last uint64
	more := false
	for _, u := range users[start:] {
		if !q.filter.match(&u.User) {
			continue
		}
		if len(page) == q.top {
			more = true
			break
		}
		page = append(page, q.sel.userJSON(&u.User, false))
		last = u.seq
	}
	count := -1
	if q.count {
		count = 0
		for _, u := range users {
			if q.filter.match(&u.User) {
				count++
			}
		}
	}
	t.mu.Unlock()
	next := ""
	if more {
		next = c.nextLink(encodeSkipToken("users", last))
	}
	return c.ok(http.StatusOK, collection(c.metadata()+"#users"+q.sel.contextSuffix(), count, next, page))
}

func (t *Tenant) getUser(c *gcall, id string) *gresp {
	if r := c.require(permReadUsers...); r != nil {
		return r
	}
	opts, bad := c.options("$select")
	if bad != nil {
		return bad
	}
	sel, present := opts["$select"]
	pr, bad := c.selectUsers(sel, present)
	if bad != nil {
		return bad
	}
	u, ok := t.User(id)
	if !ok {
		return c.notFound(id)
	}
	body := append(object{{"@odata.context", c.metadata() + "#users" + pr.contextSuffix() + "/$entity"}}, pr.userJSON(&u, false)...)
	return c.ok(http.StatusOK, body)
}

// patchUser updates the properties the sandbox models. Which permission a
// PATCH needs depends on what it changes, as Graph documents.
func (t *Tenant) patchUser(c *gcall, id string) *gresp {
	var body map[string]json.RawMessage
	if json.Unmarshal(c.body, &body) != nil || body == nil {
		return c.badJSON()
	}
	var (
		enabled    *bool
		name       *string
		leave      *time.Time
		needEnable bool
		others     int // properties that need User.ReadWrite.All
	)
	for k, raw := range body {
		if ann, bad := c.annotation(k, raw, "microsoft.graph.user"); bad != nil {
			return bad
		} else if ann {
			continue
		}
		switch k {
		case "accountEnabled":
			needEnable = true
			var b bool
			if string(raw) == "null" || json.Unmarshal(raw, &b) != nil {
				return c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.Boolean'.", raw))
			}
			enabled = &b
		case "displayName":
			others++
			var s string
			if json.Unmarshal(raw, &s) != nil || strings.TrimSpace(s) == "" {
				return c.fail(http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'displayName' of resource 'User'.")
			}
			name = &s
		case "employeeLeaveDateTime":
			var tm time.Time
			if string(raw) != "null" {
				var s string
				var err error
				if json.Unmarshal(raw, &s) == nil {
					tm, err = time.Parse(time.RFC3339, s)
				}
				if s == "" || err != nil {
					return c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'.", raw))
				}
			}
			leave = &tm
		default:
			return c.fail(http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Property '%s' is not supported by the sandbox tenant.", k))
		}
	}
	// accountEnabled alone needs only User.EnableDisableAccount.All, the
	// leave date its lifecycle permission; anything else (or nothing)
	// needs User.ReadWrite.All.
	needWrite := others > 0 || (!needEnable && leave == nil)
	switch {
	case needWrite:
		if r := c.require(permWriteUsers...); r != nil {
			return r
		}
	case needEnable:
		if r := c.require(permEnableDisable...); r != nil {
			return r
		}
	}
	if leave != nil {
		if r := c.require(permLifecycleWrite...); r != nil {
			return r
		}
		if r := c.require(permReadUsers...); r != nil {
			return r
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.dir.findUser(id)
	if u == nil {
		return c.notFound(id)
	}
	if enabled != nil {
		u.AccountEnabled = *enabled
	}
	if name != nil {
		u.DisplayName = *name
	}
	if leave != nil {
		u.EmployeeLeaveDateTime = leave.UTC()
	}
	t.dir.noteUser(u)
	return c.noContent()
}

func (t *Tenant) revokeSessions(c *gcall, id string) *gresp {
	if r := c.require(permRevoke...); r != nil {
		return r
	}
	t.mu.Lock()
	u := t.dir.findUser(id)
	if u != nil {
		u.SessionsRevokedAt = c.now
		t.dir.noteUser(u)
	}
	t.mu.Unlock()
	if u == nil {
		return c.notFound(id)
	}
	// Graph documents the context as graph.microsoft.com's; the sandbox
	// names its own service root, as it does in every @odata.context.
	return c.ok(http.StatusOK, object{{"@odata.context", c.metadata() + "#Edm.Boolean"}, {"value", true}})
}

// checkMemberGroups answers which of up to 20 groups the user is a member
// of: https://learn.microsoft.com/graph/api/user-checkmembergroups. Graph
// asks for a user permission and a group one together; groups are flat in
// the sandbox, so membership is direct.
func (t *Tenant) checkMemberGroups(c *gcall, id string) *gresp {
	if r := c.require(permReadUsers...); r != nil {
		return r
	}
	if r := c.require(permReadGroup...); r != nil {
		return r
	}
	var body struct {
		GroupIDs *[]string `json:"groupIds"`
	}
	if json.Unmarshal(c.body, &body) != nil || body.GroupIDs == nil {
		return c.fail(http.StatusBadRequest, "Request_BadRequest", "The request body must name groupIds.")
	}
	if len(*body.GroupIDs) > 20 {
		return c.fail(http.StatusBadRequest, "Request_BadRequest", "The number of group ids must not exceed 20.")
	}
	t.mu.Lock()
	u := t.dir.findUser(id)
	found := []string{}
	if u != nil {
		for _, gid := range *body.GroupIDs {
			if g := t.dir.groupByID[strings.ToLower(gid)]; g != nil {
				if _, in := g.isIn[strings.ToLower(u.ID)]; in {
					found = append(found, gid)
				}
			}
		}
	}
	t.mu.Unlock()
	if u == nil {
		return c.notFound(id)
	}
	return c.ok(http.StatusOK, object{{"@odata.context", c.metadata() + "#Collection(Edm.String)"}, {"value", found}})
}

// invitationProps are the properties POST /invitations accepts.
var invitationProps = map[string]bool{
	"invitedUserEmailAddress": true, "inviteRedirectUrl": true, "sendInvitationMessage": true,
	"invitedUserDisplayName": true, "invitedUserType": true, "invitedUserMessageInfo": true,
	"resetRedemption": true, "invitedUser": true, "invitedUserSponsors": true,
}

// maxInvitedSponsors is how many sponsors an invitation may name.
const maxInvitedSponsors = 5

func (t *Tenant) invite(c *gcall) *gresp {
	if r := c.require(permInvite...); r != nil {
		return r
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(c.body, &raw) != nil || raw == nil {
		return c.badJSON()
	}
	for k, v := range raw {
		if ann, bad := c.annotation(k, v, "microsoft.graph.invitation"); bad != nil {
			return bad
		} else if ann {
			continue
		}
		if !invitationProps[k] {
			return c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.invitation'. Make sure to only use property names that are defined by the type or mark the type as open type.", k))
		}
	}
	var in struct {
		Email       string `json:"invitedUserEmailAddress"`
		Redirect    string `json:"inviteRedirectUrl"`
		Send        bool   `json:"sendInvitationMessage"`
		DisplayName string `json:"invitedUserDisplayName"`
		UserType    string `json:"invitedUserType"`
		Reset       bool   `json:"resetRedemption"`
		MessageInfo any    `json:"invitedUserMessageInfo"`
		Sponsors    []struct {
			ID string `json:"id"`
		} `json:"invitedUserSponsors"`
	}
	if json.Unmarshal(c.body, &in) != nil {
		return c.badJSON()
	}
	if len(in.Sponsors) > maxInvitedSponsors {
		return c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("invitedUserSponsors names %d sponsors; an invitation can have at most %d.", len(in.Sponsors), maxInvitedSponsors))
	}
	switch {
	case in.Email == "":
		return c.fail(http.StatusBadRequest, "BadRequest", "The required property 'invitedUserEmailAddress' is missing or empty.")
	case in.Redirect == "":
		return c.fail(http.StatusBadRequest, "BadRequest", "The required property 'inviteRedirectUrl' is missing or empty.")
	case !validEmail(in.Email):
		return c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The email address '%s' of the invited user is not valid.", in.Email))
	}
	if u, err := url.Parse(in.Redirect); err != nil || !u.IsAbs() || u.Host == "" {
		return c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The inviteRedirectUrl '%s' is not a valid absolute URL.", in.Redirect))
	}
	userType := "Guest"
	switch {
	case in.UserType == "" || strings.EqualFold(in.UserType, "Guest"):
	case strings.EqualFold(in.UserType, "Member"):
		userType = "Member"
	default:
		return c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid value '%s' for property 'invitedUserType': it must be 'Guest' or 'Member'.", in.UserType))
	}

	t.mu.Lock()
	var sponsors []string
	for _, sp := range in.Sponsors {
		id, ok := t.dir.objectID(sp.ID)
		if !ok {
			t.mu.Unlock()
			return c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("invitedUserSponsors: the directory object '%s' does not exist or is not a user or group.", sp.ID))
		}
		sponsors = append(sponsors, id)
	}
	existing := t.dir.userWithAddress(in.Email)
	if existing != nil && existing.ExternalUserState == "" {
		t.mu.Unlock()
		return c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The invited user already exists in the directory as objectID: %s.", existing.ID))
	}
	var u User
	if existing != nil {
		// A known external user: the sandbox answers with the existing
		// object and changes nothing unless resetRedemption asks.
		if in.Reset {
			existing.ExternalUserState = "PendingAcceptance"
			t.dir.noteUser(existing)
		}
		u = existing.clone()
	} else {
		name := in.DisplayName
		if name == "" {
			name = in.Email
		}
		u = t.addUserLocked(User{
			DisplayName:       name,
			Mail:              in.Email,
			UserType:          userType,
			AccountEnabled:    true,
			ExternalUserState: "PendingAcceptance",
			Sponsors:          sponsors,
		})
	}
	inv := Invitation{
		ID:                      newGUID(),
		InvitedUserEmailAddress: in.Email,
		InvitedUserDisplayName:  in.DisplayName,
		InvitedUserType:         u.UserType,
		SendInvitationMessage:   in.Send,
		RedirectURL:             in.Redirect,
		InvitedUserID:           u.ID,
		Reused:                  existing != nil,
		At:                      c.now,
	}
	inv.RedeemURL = c.base + "/redeem?rd=" + inv.ID
	t.dir.invitations = append(t.dir.invitations, inv)
	t.dir.note(entry{Invitation: &inv})
	t.mu.Unlock()

	status := "PendingAcceptance"
	if u.ExternalUserState == "Accepted" {
		status = "Completed"
	}
	msgInfo := in.MessageInfo
	if msgInfo == nil {
		msgInfo = object{{"messageLanguage", nil}, {"ccRecipients", []any{}}, {"customizedMessageBody", nil}}
	}
	return c.ok(http.StatusCreated, object{
		{"@odata.context", c.metadata() + "#invitations/$entity"},
		{"id", inv.ID},
		{"inviteRedeemUrl", inv.RedeemURL},
		{"invitedUserDisplayName", nullable(in.DisplayName)},
		{"invitedUserType", u.UserType},
		{"invitedUserEmailAddress", in.Email},
		{"sendInvitationMessage", in.Send},
		{"resetRedemption", in.Reset},
		{"inviteRedirectUrl", in.Redirect},
		{"status", status},
		{"invitedUserMessageInfo", msgInfo},
		{"invitedUser", object{{"id", u.ID}}},
	})
}

// userWithAddress finds the user an invitation to addr would collide with:
// by mail, userPrincipalName or otherMails.
func (d *directory) userWithAddress(addr string) *userRec {
	for _, u := range d.users {
		if strings.EqualFold(u.Mail, addr) || strings.EqualFold(u.UserPrincipalName, addr) {
			return u
		}
		for _, m := range u.OtherMails {
			if strings.EqualFold(m, addr) {
				return u
			}
		}
	}
	return nil
}

func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.ContainsAny(s, " \t\r\n<>") &&
		!strings.Contains(domain, "@") && strings.Contains(domain, ".")
}

// listSponsors answers a user's sponsors, users and groups, as a
// directoryObject collection: https://learn.microsoft.com/graph/api/user-list-sponsors
// Sponsors deleted since are left out.
func (t *Tenant) listSponsors(c *gcall, id string) *gresp {
	if r := c.require(permReadUsers...); r != nil {
		return r
	}
	if _, bad := c.options(); bad != nil {
		return bad
	}
	pr, _ := c.selectUsers("", false)
	t.mu.Lock()
	u := t.dir.findUser(id)
	var items []object
	if u != nil {
		items = []object{}
		for _, sid := range u.Sponsors {
			key := strings.ToLower(sid)
			if s := t.dir.userByID[key]; s != nil {
				items = append(items, pr.userJSON(&s.User, true))
			} else if g := t.dir.groupByID[key]; g != nil {
				o := object{{"@odata.type", "#microsoft.graph.group"}}
				for _, p := range groupProperties {
					o = append(o, field{p, groupValue(g.Group, p)})
				}
				items = append(items, o)
			}
		}
	}
	t.mu.Unlock()
	if u == nil {
		return c.notFound(id)
	}
	return c.ok(http.StatusOK, collection(c.metadata()+"#directoryObjects", -1, "", items))
}
