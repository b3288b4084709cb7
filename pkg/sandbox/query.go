package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OData query options, property projection and paging.

// object is a JSON object that keeps its keys in order, as Graph does.
type object []field

type field struct {
	k string
	v any
}

// MarshalJSON writes the fields in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// omit marks a property that is absent rather than null.
type omitValue struct{}

var omit omitValue

// property is one property of a resource type as the sandbox models it.
type property struct {
	name string
	// dflt: returned when there is no $select. Entra returns several user
	// properties (userType, accountEnabled, …) only when named in $select.
	dflt bool
	// perm: reading it needs one of these permissions as well.
	perm []string
	// premium: reading it needs Entra ID P1 as well.
	premium bool
	get     func(u *User) any
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullableTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return graphTime(t)
}

// graphTime formats a DateTimeOffset the way Graph does.
func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func none(*User) any { return nil }

var userProperties = []property{
	{name: "businessPhones", dflt: true, get: func(*User) any { return []string{} }},
	{name: "displayName", dflt: true, get: func(u *User) any { return nullable(u.DisplayName) }},
	{name: "givenName", dflt: true, get: none},
	{name: "jobTitle", dflt: true, get: none},
	{name: "mail", dflt: true, get: func(u *User) any { return nullable(u.Mail) }},
	{name: "mobilePhone", dflt: true, get: none},
	{name: "officeLocation", dflt: true, get: none},
	{name: "preferredLanguage", dflt: true, get: none},
	{name: "surname", dflt: true, get: none},
	{name: "userPrincipalName", dflt: true, get: func(u *User) any { return u.UserPrincipalName }},
	{name: "id", dflt: true, get: func(u *User) any { return u.ID }},
	{name: "accountEnabled", get: func(u *User) any { return u.AccountEnabled }},
	{name: "userType", get: func(u *User) any { return nullable(u.UserType) }},
	{name: "externalUserState", get: func(u *User) any { return nullable(u.ExternalUserState) }},
	{name: "otherMails", get: func(u *User) any {
		if u.OtherMails == nil {
			return []string{}
		}
		return u.OtherMails
	}},
	{name: "createdDateTime", get: func(u *User) any { return nullableTime(u.CreatedDateTime) }},
	{name: "employeeLeaveDateTime", perm: permLifecycleRead, get: func(u *User) any { return nullableTime(u.EmployeeLeaveDateTime) }},
	// Graph leaves signInActivity out for users who never signed in.
	{name: "signInActivity", perm: permAuditLog, premium: true, get: signInActivityJSON},
}

var userPropByName = indexProps(userProperties)

// signInActivityMaxTop is the page size Graph allows when signInActivity
// is selected: "the maximum page size for $top is 120. Requests with $top
// set higher than 120 will return pages with up to 120 users."
const signInActivityMaxTop = 120

func signInActivityJSON(u *User) any {
	a := u.SignInActivity
	if a.never() {
		return omit
	}
	return object{
		{"lastSignInDateTime", nullableTime(a.LastSignIn)},
		{"lastNonInteractiveSignInDateTime", nullableTime(a.LastNonInteractiveSignIn)},
		{"lastSuccessfulSignInDateTime", nullableTime(a.LastSuccessfulSignIn)},
	}
}

func indexProps(ps []property) map[string]*property {
	m := make(map[string]*property, len(ps))
	for i := range ps {
		m[strings.ToLower(ps[i].name)] = &ps[i]
	}
	return m
}

// projection is the resolved $select of a user query.
type projection struct {
	props    []*property
	selected []string // canonical names as asked, for @odata.context
}

// userJSON projects u; odataType adds the "@odata.type" annotation that
// items of a directoryObject collection carry.
func (pr *projection) userJSON(u *User, odataType bool) object {
	o := make(object, 0, len(pr.props)+1)
	if odataType {
		o = append(o, field{"@odata.type", "#microsoft.graph.user"})
	}
	for _, p := range pr.props {
		if v := p.get(u); v != omit {
			o = append(o, field{p.name, v})
		}
	}
	return o
}

// contextSuffix is the "(a,b)" part of an @odata.context for a $select.
func (pr *projection) contextSuffix() string {
	if len(pr.selected) == 0 {
		return ""
	}
	return "(" + strings.Join(pr.selected, ",") + ")"
}

// queryOpts is a request's parsed OData system query options.
type queryOpts struct {
	sel      *projection
	top      int
	filter   *filter
	count    bool // $count=true honoured (advanced query)
	advanced bool // ConsistencyLevel: eventual and $count=true
	after    uint64
}

// options parses the system query options, allowing only those named.
// Graph treats their names case-insensitively; so does the sandbox.
func (c *gcall) options(allowed ...string) (map[string]string, *gresp) {
	opts := map[string]string{}
	for _, kv := range strings.Split(c.rawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, c.fail(http.StatusBadRequest, "BadRequest", "The query string is not valid.")
		}
		if !strings.HasPrefix(k, "$") {
			continue // custom query options are ignored
		}
		name := strings.ToLower(k)
		ok := false
		for _, a := range allowed {
			ok = ok || a == name
		}
		if !ok {
			switch name {
			case "$select", "$filter", "$top", "$count", "$skiptoken", "$orderby", "$search", "$expand", "$skip", "$format":
				return nil, c.fail(http.StatusBadRequest, "Request_UnsupportedQuery", fmt.Sprintf("Unsupported Query. The query option '%s' is not supported on this request by the sandbox tenant.", k))
			}
			return nil, c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The query parameter '%s' is not supported.", k))
		}
		if _, dup := opts[name]; dup {
			return nil, c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Query option '%s' was specified more than once, but it must be specified at most once.", k))
		}
		opts[name] = v
	}
	return opts, nil
}

// selectUsers resolves $select on a user collection or entity.
func (c *gcall) selectUsers(raw string, present bool) (*projection, *gresp) {
	pr := &projection{}
	if !present {
		for i := range userProperties {
			if userProperties[i].dflt {
				pr.props = append(pr.props, &userProperties[i])
			}
		}
		return pr, nil
	}
	for _, name := range strings.Split(raw, ",") {
		name = strings.TrimSpace(name)
		p := userPropByName[strings.ToLower(name)]
		if p == nil {
			return nil, c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.user'.", name))
		}
		if p.perm != nil {
			if r := c.require(p.perm...); r != nil {
				return nil, r
			}
		}
		if p.premium {
			if r := c.requirePremium(); r != nil {
				return nil, r
			}
		}
		pr.props = append(pr.props, p)
		pr.selected = append(pr.selected, p.name)
	}
	return pr, nil
}

// listOptions parses the options of a user collection: what names it for
// messages ("users", "members"), tokenKind identifies it in skip tokens.
// On group members Entra filters only in advanced queries.
func (c *gcall) listOptions(what, tokenKind string) (*queryOpts, *gresp) {
	filterNeedsAdvanced := what == "members"
	opts, bad := c.options("$select", "$filter", "$top", "$count", "$skiptoken")
	if bad != nil {
		return nil, bad
	}
	q := &queryOpts{top: 100}
	sel, present := opts["$select"]
	if q.sel, bad = c.selectUsers(sel, present); bad != nil {
		return nil, bad
	}
	if v, ok := opts["$top"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", v))
		}
		if n < 1 || n > 999 {
			return nil, c.fail(http.StatusBadRequest, "Request_UnsupportedQuery", fmt.Sprintf("Invalid page size specified: '%d'. Must be between 1 and 999 inclusive.", n))
		}
		q.top = n
	}
	if slices.Contains(q.sel.selected, "signInActivity") {
		q.top = min(q.top, signInActivityMaxTop)
	}
	if v, ok := opts["$count"]; ok {
		switch strings.ToLower(v) {
		case "true":
			q.advanced = strings.EqualFold(c.header.Get("ConsistencyLevel"), "eventual")
		case "false":
		default:
			return nil, c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("'%s' is not a valid count option.", v))
		}
	}
	// Without ConsistencyLevel: eventual, Entra silently ignores $count=true.
	q.count = q.advanced
	if v, ok := opts["$filter"]; ok {
		f, err := parseFilter(v)
		if err != nil {
			fe := &filterError{"BadRequest", err.Error()}
			errors.As(err, &fe)
			return nil, c.fail(http.StatusBadRequest, fe.code, fe.msg)
		}
		if !q.advanced {
			op := f.advanced
			if op == "" && filterNeedsAdvanced {
				return nil, c.fail(http.StatusBadRequest, "Request_UnsupportedQuery", fmt.Sprintf("Filter on %s is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information", what))
			}
			if op != "" {
				return nil, c.fail(http.StatusBadRequest, "Request_UnsupportedQuery", fmt.Sprintf("Operator '%s' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information", op))
			}
		}
		q.filter = f
	}
	if v, ok := opts["$skiptoken"]; ok {
		after, ok := decodeSkipToken(v, tokenKind)
		if !ok {
			return nil, c.fail(http.StatusBadRequest, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
		}
		q.after = after
	}
	return q, nil
}

// Skip tokens are opaque to clients: base64url of the collection and the
// sequence number of the last object answered. Resuming after a sequence
// number (not an offset) keeps paging right while members come and go.
func encodeSkipToken(kind string, after uint64) string {
	return b64.EncodeToString([]byte(fmt.Sprintf("stint-sandbox:%s:%d", kind, after)))
}

func decodeSkipToken(tok, kind string) (uint64, bool) {
	raw, err := b64.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(raw), "stint-sandbox:"+kind+":")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil
}

// nextLink is the absolute URL of the next page: the request's own URL
// with $skiptoken replaced.
func (c *gcall) nextLink(token string) string {
	var keep []string
	for _, kv := range strings.Split(c.rawQuery, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); kv == "" || (err == nil && strings.EqualFold(uk, "$skiptoken")) {
			continue
		}
		keep = append(keep, kv)
	}
	keep = append(keep, "$skiptoken="+token)
	return c.base + "/v1.0" + c.escPath + "?" + strings.Join(keep, "&")
}

// metadata is the service root's $metadata URL, for @odata.context.
func (c *gcall) metadata() string { return c.base + "/v1.0/$metadata" }
