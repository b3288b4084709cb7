package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GET /auditLogs/signIns: https://learn.microsoft.com/graph/api/signin-list
// "The maximum and default page size is 1,000 objects and by default, the
// most recent sign-ins are returned first."

const signInsMaxTop = 1000

func (t *Tenant) routeAuditLogs(c *gcall, segs []string) *gresp {
	if len(segs) == 0 || !strings.EqualFold(segs[0], "signIns") {
		if len(segs) == 0 {
			return c.methodNotAllowed()
		}
		return c.noSegment(segs[0])
	}
	if c.method != http.MethodGet {
		return c.methodNotAllowed()
	}
	if r := c.require(permAuditLog...); r != nil {
		return r
	}
	if r := c.requirePremium(); r != nil {
		return r
	}
	switch len(segs) {
	case 1:
		return t.listSignIns(c)
	case 2:
		return t.getSignIn(c, segs[1])
	}
	return c.noSegment(segs[2])
}

func (t *Tenant) getSignIn(c *gcall, id string) *gresp {
	if _, bad := c.options(); bad != nil {
		return bad
	}
	t.mu.Lock()
	var found *signInRec
	for _, s := range t.dir.signIns {
		if strings.EqualFold(s.id, id) {
			found = s
		}
	}
	t.mu.Unlock()
	if found == nil {
		return c.notFound(id)
	}
	return c.ok(http.StatusOK, append(object{{"@odata.context", c.metadata() + "#auditLogs/signIns/$entity"}}, found.json()...))
}

func (t *Tenant) listSignIns(c *gcall) *gresp {
	opts, bad := c.options("$filter", "$top", "$skiptoken")
	if bad != nil {
		return bad
	}
	top := signInsMaxTop
	if v, ok := opts["$top"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > signInsMaxTop {
			return c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid $top value '%s': it must be between 1 and %d.", v, signInsMaxTop))
		}
		top = n
	}
	match := func(*signInRec) bool { return true }
	if v, ok := opts["$filter"]; ok {
		f, err := parseSignInFilter(v)
		if err != nil {
			return c.fail(http.StatusBadRequest, "BadRequest", err.Error())
		}
		match = f
	}
	var after *signInKey
	if v, ok := opts["$skiptoken"]; ok {
		k, ok := decodeSignInToken(v)
		if !ok {
			return c.fail(http.StatusBadRequest, "BadRequest", "The $skiptoken is not valid or has expired.")
		}
		after = &k
	}
	t.mu.Lock()
	all := slices.Clone(t.dir.signIns)
	t.mu.Unlock()
	// Newest first; among equal times, the later scripted first.
	slices.SortFunc(all, func(a, b *signInRec) int { return b.key().compare(a.key()) })
	page := []object{}
	more := false
	var last signInKey
	for _, s := range all {
		if (after != nil && !after.before(s.key())) || !match(s) {
			continue
		}
		if len(page) == top {
			more = true
			break
		}
		page = append(page, s.json())
		last = s.key()
	}
	next := ""
	if more {
		next = c.nextLink(last.token())
	}
	return c.ok(http.StatusOK, collection(c.metadata()+"#auditLogs/signIns", -1, next, page))
}

// signInKey orders the log: by time, then by the order scripted.
type signInKey struct {
	at  time.Time
	seq uint64
}

func (s *signInRec) key() signInKey { return signInKey{s.at, s.seq} }

func (k signInKey) compare(o signInKey) int {
	if c := k.at.Compare(o.at); c != 0 {
		return c
	}
	switch {
	case k.seq < o.seq:
		return -1
	case k.seq > o.seq:
		return 1
	}
	return 0
}

// before reports whether o comes after k in the newest-first order.
func (k signInKey) before(o signInKey) bool { return o.compare(k) < 0 }

// Skip tokens of the sign-in log name the last entry answered (time and
// sequence), so that entries logged meanwhile do not shift the pages.
func (k signInKey) token() string {
	return b64.EncodeToString([]byte(fmt.Sprintf("stint-sandbox:signIns:%d.%d", k.at.UnixNano(), k.seq)))
}

func decodeSignInToken(tok string) (signInKey, bool) {
	raw, err := b64.DecodeString(tok)
	if err != nil {
		return signInKey{}, false
	}
	rest, ok := strings.CutPrefix(string(raw), "stint-sandbox:signIns:")
	nano, seq, ok2 := strings.Cut(rest, ".")
	n, err1 := strconv.ParseInt(nano, 10, 64)
	s, err2 := strconv.ParseUint(seq, 10, 64)
	if !ok || !ok2 || err1 != nil || err2 != nil {
		return signInKey{}, false
	}
	return signInKey{time.Unix(0, n).UTC(), s}, true
}

// json is the signIn as Graph answers it, limited to what the sandbox
// models.
func (s *signInRec) json() object {
	return object{
		{"id", s.id},
		{"createdDateTime", s.at.Format("2006-01-02T15:04:05.9999999Z")},
		{"userDisplayName", nullable(s.displayName)},
		{"userPrincipalName", s.upn},
		{"userId", s.userID},
		{"appId", s.appID},
		{"appDisplayName", s.app},
		{"ipAddress", s.ip},
		{"isInteractive", s.interactive},
		{"status", object{
			{"errorCode", s.errorCode},
			{"failureReason", nullable(s.failureReason)},
			{"additionalDetails", nil},
		}},
	}
}

// parseSignInFilter understands the filters stint and most tools use on
// the sign-in log: clauses joined by "and", each one of
//
//	userId eq '…'   userPrincipalName eq '…'   appId eq '…'
//	createdDateTime (eq|ge|gt|le|lt) 2024-05-01T00:00:00Z
//
// (the date unquoted, as OData writes a DateTimeOffset literal).
func parseSignInFilter(src string) (func(*signInRec) bool, error) {
	toks, err := signInFilterTokens(src)
	if err != nil {
		return nil, err
	}
	var clauses []func(*signInRec) bool
	for i := 0; ; i += 4 {
		if len(toks) < i+3 {
			return nil, filterErr("Invalid filter clause: expected property, operator and value at the end of '%s'.", src)
		}
		f, err := signInClause(toks[i], strings.ToLower(toks[i+1]), toks[i+2])
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, f)
		if len(toks) == i+3 {
			break
		}
		if !strings.EqualFold(toks[i+3], "and") {
			return nil, filterErr("Invalid filter clause: '%s' is not supported by the sandbox tenant in '%s'; join clauses with 'and'.", toks[i+3], src)
		}
	}
	return func(s *signInRec) bool {
		for _, f := range clauses {
			if !f(s) {
				return false
			}
		}
		return true
	}, nil
}

// signInFilterTokens splits a filter into words and quoted strings (the
// quotes kept, ” unescaped).
func signInFilterTokens(src string) ([]string, error) {
	var toks []string
	for i := 0; i < len(src); {
		switch {
		case src[i] == ' ':
			i++
		case src[i] == '\'':
			var b strings.Builder
			b.WriteByte('\'')
			j := i + 1
			for ; ; j++ {
				if j >= len(src) {
					return nil, filterErr("Invalid filter clause: unterminated string in '%s'.", src)
				}
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						b.WriteByte('\'')
						j++
						continue
					}
					break
				}
				b.WriteByte(src[j])
			}
			toks = append(toks, b.String())
			i = j + 1
		case src[i] == '(' || src[i] == ')':
			return nil, filterErr("Invalid filter clause: parentheses and functions are not supported by the sandbox tenant on signIns ('%s').", src)
		default:
			j := i
			for j < len(src) && src[j] != ' ' {
				j++
			}
			toks = append(toks, src[i:j])
			i = j
		}
	}
	return toks, nil
}

// filterErr is a refused sign-in filter: 400 BadRequest with this message.
func filterErr(format string, args ...any) error {
	return &filterError{"BadRequest", fmt.Sprintf(format, args...)}
}

func signInClause(prop, op, val string) (func(*signInRec) bool, error) {
	str := func(get func(*signInRec) string) (func(*signInRec) bool, error) {
		if op != "eq" {
			return nil, filterErr("Invalid filter clause: operator '%s' is not supported on '%s' by the sandbox tenant.", op, prop)
		}
		want, ok := strings.CutPrefix(val, "'")
		if !ok {
			return nil, filterErr("Invalid filter clause: '%s' must be compared with a quoted string, not %s.", prop, val)
		}
		return func(s *signInRec) bool { return strings.EqualFold(get(s), want) }, nil
	}
	switch strings.ToLower(prop) {
	case "userid":
		return str(func(s *signInRec) string { return s.userID })
	case "userprincipalname":
		return str(func(s *signInRec) string { return s.upn })
	case "appid":
		return str(func(s *signInRec) string { return s.appID })
	case "createddatetime":
		at, err := time.Parse(time.RFC3339Nano, val)
		if err != nil {
			return nil, filterErr("Invalid filter clause: '%s' is not a DateTimeOffset literal (write it unquoted, e.g. 2024-05-01T00:00:00Z).", val)
		}
		cmp := map[string]func(int) bool{
			"eq": func(c int) bool { return c == 0 }, "ge": func(c int) bool { return c >= 0 },
			"gt": func(c int) bool { return c > 0 }, "le": func(c int) bool { return c <= 0 },
			"lt": func(c int) bool { return c < 0 },
		}[op]
		if cmp == nil {
			return nil, filterErr("Invalid filter clause: operator '%s' is not supported on 'createdDateTime'.", op)
		}
		return func(s *signInRec) bool { return cmp(s.at.Compare(at)) }, nil
	}
	return nil, filterErr("Invalid filter clause: property '%s' of signIn is not supported by the sandbox tenant (userId, userPrincipalName, appId, createdDateTime are).", prop)
}
