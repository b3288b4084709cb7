package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The Microsoft Graph side: the request pipeline shared by direct requests
// and $batch items, authentication, permissions and error bodies.

// Application permissions accepted per operation, least privileged first,
// as the Graph reference lists them for application (app-only) callers.
var (
	permReadUsers      = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permWriteUsers     = []string{"User.ReadWrite.All", "Directory.ReadWrite.All"}
	permEnableDisable  = []string{"User.EnableDisableAccount.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
	permLifecycleWrite = []string{"User-LifeCycleInfo.ReadWrite.All"}
	permLifecycleRead  = []string{"User-LifeCycleInfo.Read.All", "User-LifeCycleInfo.ReadWrite.All"}
	permAuditLog       = []string{"AuditLog.Read.All"}
	permRevoke         = []string{"User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
	permInvite         = []string{"User.Invite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
	permReadGroup      = []string{"GroupMember.Read.All", "Group.Read.All", "GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permWriteMembers   = []string{"GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"}
	permWriteGroup     = []string{"Group.ReadWrite.All", "Directory.ReadWrite.All"}
	permRoleAssignable = []string{"RoleManagement.ReadWrite.Directory"}

	// Conditional Access policies: reading needs Policy.Read.All, and
	// nothing higher is listed. Writing needs two permissions together
	// (each inner list is one-of): create and update list "Policy.Read.All
	// and Policy.ReadWrite.ConditionalAccess", or Application.Read.All in
	// place of Policy.Read.All; delete lists only the first pair.
	permReadPolicies   = []string{"Policy.Read.All"}
	permWritePolicies  = [][]string{{"Policy.ReadWrite.ConditionalAccess"}, {"Policy.Read.All", "Application.Read.All"}}
	permDeletePolicies = [][]string{{"Policy.ReadWrite.ConditionalAccess"}, {"Policy.Read.All"}}
)

// odataJSON is the Content-Type of Graph's JSON answers.
const odataJSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// gcall is one Graph request: a direct one or an item of a $batch.
type gcall struct {
	done     <-chan struct{}
	method   string
	path     string // decoded, relative to /v1.0, starting with "/"
	escPath  string // the same, as sent (escaped)
	rawQuery string
	header   http.Header
	body     []byte
	base     string // scheme://host the client used
	app      *principal
	inBatch  bool
	premium  bool // the tenant has Entra ID P1

	requestID       string
	clientRequestID string
	now             time.Time
}

// gresp is the answer to a gcall.
type gresp struct {
	status int
	header http.Header
	body   []byte
	drop   bool // close the connection instead of answering
}

// principal is the caller, from a validated access token.
type principal struct {
	appID string
	roles map[string]bool
}

func (t *Tenant) newCall(r *http.Request) *gcall {
	c := &gcall{
		done:     r.Context().Done(),
		method:   r.Method,
		path:     stripVersion(r.URL.Path),
		escPath:  stripVersion(r.URL.EscapedPath()),
		rawQuery: r.URL.RawQuery,
		header:   r.Header,
		base:     baseURL(r),
		now:      t.now().UTC(),
	}
	if c.path == "" {
		c.path = "/"
	}
	c.requestID = newGUID()
	c.clientRequestID = r.Header.Get("client-request-id")
	if c.clientRequestID == "" {
		c.clientRequestID = c.requestID
	}
	return c
}

// stripVersion removes the leading "/v1.0" (matched case-insensitively by
// serveHTTP) from a path.
func stripVersion(p string) string {
	if len(p) < len("/v1.0") {
		return ""
	}
	return p[len("/v1.0"):]
}

func (t *Tenant) serveGraph(w http.ResponseWriter, r *http.Request) {
	c := t.newCall(r)
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, RequestID: c.requestID, At: c.now}
	sleep(c.done, t.currentLatency())
	res := t.graphDirect(r, c)
	if c.app != nil {
		rec.AppID = c.app.appID
	}
	rec.Status = res.status
	if res.drop {
		rec.Status = 0
	}
	// Journal before answering, so a client that has its answer finds the
	// request in the journal.
	t.record(rec)
	if res.drop {
		dropConnection(w)
		return
	}
	c.writeTo(w, res)
}

func (c *gcall) writeTo(w http.ResponseWriter, res *gresp) {
	h := w.Header()
	for k, v := range res.header {
		h[k] = v
	}
	h.Set("request-id", c.requestID)
	h.Set("client-request-id", c.clientRequestID)
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body)
}

// graphDirect runs a request that came over the wire.
func (t *Tenant) graphDirect(r *http.Request, c *gcall) *gresp {
	app, msg := t.authenticate(r.Header.Get("Authorization"), c.base)
	c.app = app
	if res := t.applyFaults(c); res != nil {
		return res
	}
	if app == nil {
		res := c.fail(http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		res.header.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="", authorization_uri="%s/%s/oauth2/v2.0/authorize", client_id="00000003-0000-0000-c000-000000000000"`, c.base, t.TenantID()))
		return res
	}
	body, err := readBody(r)
	if err != nil {
		return c.fail(http.StatusBadRequest, "BadRequest", "Invalid Data.")
	}
	c.body = body
	if strings.EqualFold(strings.Trim(c.path, "/"), "$batch") {
		if c.method != http.MethodPost {
			return c.methodNotAllowed()
		}
		return t.batch(c)
	}
	return t.execute(c)
}

// execute runs a request that has passed authentication and faults:
// throttling, then the route.
func (t *Tenant) execute(c *gcall) *gresp {
	c.premium = t.hasPremium()
	hdr, res := t.throttle(c)
	if res != nil {
		return res
	}
	res = t.route(c)
	for k, v := range hdr {
		res.header[k] = v
	}
	return res
}

func (t *Tenant) route(c *gcall) *gresp {
	segs := strings.Split(strings.Trim(c.path, "/"), "/")
	switch strings.ToLower(segs[0]) {
	case "users":
		return t.routeUsers(c, segs[1:])
	case "groups":
		return t.routeGroups(c, segs[1:])
	case "identity":
		return t.routeIdentity(c, segs[1:])
	case "auditlogs":
		return t.routeAuditLogs(c, segs[1:])
	case "invitations":
		if len(segs) > 1 {
			return c.noSegment(segs[1])
		}
		if c.method != http.MethodPost {
			return c.methodNotAllowed()
		}
		return t.invite(c)
	case "$batch":
		return c.fail(http.StatusBadRequest, "BadRequest", "A $batch request cannot contain another $batch request.")
	case "":
		return c.fail(http.StatusBadRequest, "BadRequest", "Invalid request.")
	}
	return c.noSegment(segs[0])
}

// authenticate validates a bearer token for this server. It returns the
// caller, or nil and the message Graph gives.
func (t *Tenant) authenticate(authz, base string) (*principal, string) {
	scheme, tok, _ := strings.Cut(strings.TrimSpace(authz), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, "Access token is empty."
	}
	p, err := parseJWT(tok)
	if err != nil {
		return nil, "IDX14100: JWT is not well formed, there are no dots (.) or the token is not a valid JWS."
	}
	k := t.signer()
	if p.header.Kid != k.kid || p.verify(&k.priv.PublicKey, "RS256") != nil {
		return nil, "Access token validation failure. Invalid signature."
	}
	if p.str("tid") != t.TenantID() {
		return nil, "Access token validation failure. Invalid issuer."
	}
	if !p.timely(t.now()) {
		return nil, "Lifetime validation failed, the token is expired."
	}
	okAud := false
	for _, aud := range p.audiences() {
		okAud = okAud || sameOrigin(aud, base)
	}
	if !okAud {
		return nil, "Access token validation failure. Invalid audience."
	}
	pr := &principal{appID: p.str("appid"), roles: map[string]bool{}}
	if roles, ok := p.claims["roles"].([]any); ok {
		for _, r := range roles {
			if s, ok := r.(string); ok {
				pr.roles[s] = true
			}
		}
	}
	return pr, ""
}

// granted reports whether the caller holds one of perms.
func (c *gcall) granted(perms ...string) bool {
	for _, p := range perms {
		if c.app != nil && c.app.roles[p] {
			return true
		}
	}
	return false
}

// require answers 403 unless the caller holds one of perms.
func (c *gcall) require(perms ...string) *gresp {
	if c.granted(perms...) {
		return nil
	}
	return c.fail(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

// requireAll answers 403 unless the caller holds, for each of sets, one of
// its permissions: for operations that need two permissions together.
func (c *gcall) requireAll(sets ...[]string) *gresp {
	for _, perms := range sets {
		if r := c.require(perms...); r != nil {
			return r
		}
	}
	return nil
}

// fail builds a Graph error answer. Every error carries code, message and
// innerError with date, request-id and client-request-id.
func (c *gcall) fail(status int, code, msg string) *gresp {
	body := object{{"error", object{
		{"code", code},
		{"message", msg},
		{"innerError", object{
			{"date", c.now.Format("2006-01-02T15:04:05")},
			{"request-id", c.requestID},
			{"client-request-id", c.clientRequestID},
		}},
	}}}
	return &gresp{status: status, header: http.Header{
		"Content-Type":  {"application/json"},
		"Cache-Control": {"no-cache"},
	}, body: mustJSON(body)}
}

// ok builds a JSON answer.
func (c *gcall) ok(status int, v any) *gresp {
	return &gresp{status: status, header: http.Header{
		"Content-Type":  {odataJSON},
		"Cache-Control": {"no-cache"},
		"Odata-Version": {"4.0"},
	}, body: mustJSON(v)}
}

func (c *gcall) noContent() *gresp {
	return &gresp{status: http.StatusNoContent, header: http.Header{"Cache-Control": {"no-cache"}}}
}

func (c *gcall) methodNotAllowed() *gresp {
	return c.fail(http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
}

func (c *gcall) noSegment(seg string) *gresp {
	return c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg))
}

func (c *gcall) notFound(id string) *gresp {
	return c.fail(http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
}

func (c *gcall) badJSON() *gresp {
	return c.fail(http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
}

// annotation reports whether the body property k is an OData instance
// annotation ("@odata.type": the SDK sends one with every entity it
// serialises). An @odata.type naming another type than typ is refused.
func (c *gcall) annotation(k string, raw []byte, typ string) (bool, *gresp) {
	if !strings.HasPrefix(k, "@") {
		return false, nil
	}
	if k == "@odata.type" {
		var s string
		_ = json.Unmarshal(raw, &s)
		if !strings.EqualFold(strings.TrimPrefix(s, "#"), typ) {
			return true, c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("A type named '%s' could not be resolved by the model; this request expects '%s'.", s, typ))
		}
	}
	return true, nil
}

// collection builds the body of a collection answer.
func collection(context string, count int, next string, items []object) object {
	o := object{{"@odata.context", context}}
	if count >= 0 {
		o = append(o, field{"@odata.count", count})
	}
	if next != "" {
		o = append(o, field{"@odata.nextLink", next})
	}
	return append(o, field{"value", items})
}
