package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Groups and their members.

// alreadyMember is Graph's answer to adding an existing member.
const alreadyMember = "One or more added object references already exist for the following modified properties: 'members'."

// maxBind is how many members one PATCH may add with members@odata.bind.
const maxBind = 20

func (t *Tenant) routeGroups(c *gcall, segs []string) *gresp {
	if len(segs) == 0 {
		return c.methodNotAllowed()
	}
	gid := segs[0]
	if len(segs) == 1 {
		switch c.method {
		case http.MethodGet:
			return t.getGroup(c, gid)
		case http.MethodPatch:
			return t.patchGroup(c, gid)
		}
		return c.methodNotAllowed()
	}
	if !strings.EqualFold(segs[1], "members") {
		return c.noSegment(segs[1])
	}
	switch len(segs) {
	case 2:
		if c.method != http.MethodGet {
			return c.methodNotAllowed()
		}
		return t.listMembers(c, gid, false)
	case 3:
		switch s := segs[2]; {
		case s == "$ref":
			if c.method != http.MethodPost {
				return c.methodNotAllowed()
			}
			return t.addMemberRef(c, gid)
		case strings.EqualFold(s, "microsoft.graph.user") || strings.EqualFold(s, "graph.user"):
			if c.method != http.MethodGet {
				return c.methodNotAllowed()
			}
			return t.listMembers(c, gid, true)
		}
		// /groups/{gid}/members/{id} without /$ref addresses the member
		// object itself: a DELETE there would delete the user in Graph.
		// The sandbox refuses every method on it rather than pretend.
		return c.methodNotAllowed()
	case 4:
		if segs[3] != "$ref" {
			return c.noSegment(segs[3])
		}
		if c.method != http.MethodDelete {
			return c.methodNotAllowed()
		}
		return t.removeMemberRef(c, gid, segs[2])
	}
	return c.noSegment(segs[4])
}

var groupProperties = []string{"id", "displayName", "isAssignableToRole", "securityEnabled", "mailEnabled"}

func groupValue(g Group, name string) any {
	switch name {
	case "id":
		return g.ID
	case "displayName":
		return nullable(g.DisplayName)
	case "isAssignableToRole":
		return g.IsAssignableToRole
	case "securityEnabled":
		return g.SecurityEnabled
	}
	return g.MailEnabled
}

func (t *Tenant) getGroup(c *gcall, gid string) *gresp {
	if r := c.require(permReadGroup...); r != nil {
		return r
	}
	opts, bad := c.options("$select")
	if bad != nil {
		return bad
	}
	props, suffix := groupProperties, ""
	if raw, ok := opts["$select"]; ok {
		props = nil
		for _, name := range strings.Split(raw, ",") {
			name = strings.TrimSpace(name)
			canon := ""
			for _, p := range groupProperties {
				if strings.EqualFold(p, name) {
					canon = p
				}
			}
			if canon == "" {
				return c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.group'.", name))
			}
			props = append(props, canon)
		}
		suffix = "(" + strings.Join(props, ",") + ")"
	}
	g, ok := t.Group(gid)
	if !ok {
		return c.notFound(gid)
	}
	body := object{{"@odata.context", c.metadata() + "#groups" + suffix + "/$entity"}}
	for _, p := range props {
		body = append(body, field{p, groupValue(g, p)})
	}
	return c.ok(http.StatusOK, body)
}

// refID extracts the object id from an @odata.id or @odata.bind URL such
// as https://graph.microsoft.com/v1.0/directoryObjects/{id}. Any host is
// accepted; the collection must be directoryObjects or users.
func refID(ref string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", false
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) < 2 {
		return "", false
	}
	coll, id := segs[len(segs)-2], segs[len(segs)-1]
	if id == "" || !(strings.EqualFold(coll, "directoryObjects") || strings.EqualFold(coll, "users")) {
		return "", false
	}
	return id, true
}

func (c *gcall) invalidRef(ref string) *gresp {
	return c.fail(http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Invalid object identifier '%s'.", ref))
}

func (t *Tenant) addMemberRef(c *gcall, gid string) *gresp {
	if r := c.require(permWriteMembers...); r != nil {
		return r
	}
	var body struct {
		ID *string `json:"@odata.id"`
	}
	if json.Unmarshal(c.body, &body) != nil {
		return c.badJSON()
	}
	if body.ID == nil {
		return c.fail(http.StatusBadRequest, "BadRequest", "The required property '@odata.id' is missing from the request body.")
	}
	uid, ok := refID(*body.ID)
	if !ok {
		return c.invalidRef(*body.ID)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.dir.groupByID[strings.ToLower(gid)]
	if g == nil {
		return c.notFound(gid)
	}
	if g.IsAssignableToRole {
		if r := c.require(permRoleAssignable...); r != nil {
			return r
		}
	}
	u := t.dir.findUser(uid)
	if u == nil {
		return c.notFound(uid)
	}
	if !t.dir.addMember(g, u.ID) {
		return c.fail(http.StatusBadRequest, "Request_BadRequest", alreadyMember)
	}
	return c.noContent()
}

func (t *Tenant) removeMemberRef(c *gcall, gid, uid string) *gresp {
	if r := c.require(permWriteMembers...); r != nil {
		return r
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.dir.groupByID[strings.ToLower(gid)]
	if g == nil {
		return c.notFound(gid)
	}
	if g.IsAssignableToRole {
		if r := c.require(permRoleAssignable...); r != nil {
			return r
		}
	}
	if !t.dir.removeMember(g, uid) {
		return c.notFound(uid)
	}
	return c.noContent()
}

// patchGroup updates a group; members@odata.bind adds up to 20 members in
// one request, all or none.
func (t *Tenant) patchGroup(c *gcall, gid string) *gresp {
	var body map[string]json.RawMessage
	if json.Unmarshal(c.body, &body) != nil || body == nil {
		return c.badJSON()
	}
	var (
		binds []string
		name  *string
	)
	props := 0
	for k, raw := range body {
		if ann, bad := c.annotation(k, raw, "microsoft.graph.group"); bad != nil {
			return bad
		} else if ann {
			continue
		}
		props++
		switch k {
		case "members@odata.bind":
			if json.Unmarshal(raw, &binds) != nil {
				return c.fail(http.StatusBadRequest, "BadRequest", "The value of 'members@odata.bind' must be an array of URLs.")
			}
		case "displayName":
			var s string
			if json.Unmarshal(raw, &s) != nil || s == "" {
				return c.fail(http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'displayName' of resource 'Group'.")
			}
			name = &s
		default:
			return c.fail(http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Property '%s' is not supported by the sandbox tenant.", k))
		}
	}
	if name != nil || props == 0 {
		if r := c.require(permWriteGroup...); r != nil {
			return r
		}
	}
	if binds != nil {
		if r := c.require(permWriteMembers...); r != nil {
			return r
		}
	}
	if len(binds) > maxBind {
		return c.fail(http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("The request adds %d object references to 'members'; at most %d may be added in one request.", len(binds), maxBind))
	}
	ids := make([]string, len(binds))
	for i, b := range binds {
		id, ok := refID(b)
		if !ok {
			return c.invalidRef(b)
		}
		ids[i] = id
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.dir.groupByID[strings.ToLower(gid)]
	if g == nil {
		return c.notFound(gid)
	}
	if len(ids) > 0 && g.IsAssignableToRole {
		if r := c.require(permRoleAssignable...); r != nil {
			return r
		}
	}
	seen := map[string]bool{}
	var users []string
	for _, id := range ids {
		u := t.dir.findUser(id)
		if u == nil {
			return c.notFound(id)
		}
		key := strings.ToLower(u.ID)
		if _, in := g.isIn[key]; in || seen[key] {
			return c.fail(http.StatusBadRequest, "Request_BadRequest", alreadyMember)
		}
		seen[key] = true
		users = append(users, u.ID)
	}
	for _, id := range users {
		t.dir.addMember(g, id)
	}
	if name != nil {
		renamed := g.Group
		renamed.DisplayName = *name
		t.dir.putGroup(renamed)
	}
	return c.noContent()
}

// listMembers pages through a group's members in insertion order. cast
// selects the /members/microsoft.graph.user form (a users collection);
// without it each item is annotated with its @odata.type.
func (t *Tenant) listMembers(c *gcall, gid string, cast bool) *gresp {
	if r := c.require(permReadGroup...); r != nil {
		return r
	}
	q, bad := c.listOptions("members", "members:"+strings.ToLower(gid))
	if bad != nil {
		return bad
	}
	t.mu.Lock()
	g := t.dir.groupByID[strings.ToLower(gid)]
	if g == nil {
		t.mu.Unlock()
		return c.notFound(gid)
	}
	ms := g.members
	start := sort.Search(len(ms), func(i int) bool { return ms[i].seq > q.after })
	page := make([]object, 0, min(q.top, len(ms)-start))
	var last uint64
	more := false
	for _, m := range ms[start:] {
		u := t.dir.userByID[strings.ToLower(m.userID)]
		if u == nil || !q.filter.match(&u.User) {
			continue
		}
		if len(page) == q.top {
			more = true
			break
		}
		page = append(page, q.sel.userJSON(&u.User, !cast))
		last = m.seq
	}
	count := -1
	if q.count {
		count = 0
		for _, m := range ms {
			if u := t.dir.userByID[strings.ToLower(m.userID)]; u != nil && q.filter.match(&u.User) {
				count++
			}
		}
	}
	t.mu.Unlock()
	next := ""
	if more {
		next = c.nextLink(encodeSkipToken("members:"+strings.ToLower(gid), last))
	}
	kind := "#directoryObjects"
	if cast {
		kind = "#users"
	}
	return c.ok(http.StatusOK, collection(c.metadata()+kind+q.sel.contextSuffix(), count, next, page))
}
