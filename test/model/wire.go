package model

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/stintdev/stint/pkg/sandbox"
)

// wire sits between the Graph adapter and the network: every Graph
// request stint makes passes through it, in the caller's goroutine, one
// at a time: it holds the run's lock for the whole request, so that a
// fault lands on the request it was decided for and what a request is
// checked against does not change before the tenant handles it. Units of
// work running at once interleave between their requests (the sandbox
// handles each request atomically anyway; only a $batch's items, which
// Graph may interleave with other requests, run together here). It
//
//   - checks, at the moment a request is sent, the invariants that are
//     about requests (3, 4b, 5), against the tenant as it is then;
//   - decides faults and has the tenant inject them for this request;
//   - learns which account stint resolved for whom (lookups, invitations);
//   - counts effects for the crash model, and kills the unit of work the
//     request's context belongs to after the chosen one.
//
// A fault is decided by hashing the seed with what the request is about
// (its method and path with object ids replaced by the people and access
// keys they stand for, e.g. "POST add c17 to vpn") and how many such
// requests came before. So one contractor's faults do not depend on other
// contractors' requests: runs on a subset of the people (shrinking) meet
// the same faults, and the order in which the reconcile visits people
// (a map, in stint) does not move faults from one to another.
type wire struct {
	run  *run
	next http.RoundTripper
}

// gcall is a Graph request, or one item of a $batch.
type gcall struct {
	// ID is a $batch item's id.
	ID     string
	Method string
	// Path is the decoded path after /v1.0, e.g. "/users/{id}".
	Path  string
	Query url.Values
	Body  []byte
	Items []gcall
}

func (w *wire) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, "/v1.0/") {
		return w.next.RoundTrip(req) // the token service
	}
	r := w.run
	r.mu.Lock()
	defer r.mu.Unlock()
	unit := crashOf(req.Context())
	if unit.isDead() {
		return nil, errCrashed
	}
	body, err := requestBody(req)
	if err != nil {
		return nil, err
	}
	c := parseCall(req.Method, strings.TrimPrefix(req.URL.Path, "/v1.0"), req.URL.RawQuery, body)
	what := r.describe(c)
	broken := r.observe(c, nil)
	fault := r.injectFaults(c, what)
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	if req.Body == nil || req.Body == http.NoBody {
		out.Body = req.Body
	}
	resp, err := w.next.RoundTrip(out)
	r.sys.tenant.ClearFaults() // an item fault whose item never ran
	r.stats.GraphRequests++
	if c.write() {
		r.stats.GraphWrites++
	}
	status := "error"
	var answer []byte
	if err == nil {
		status = fmt.Sprint(resp.StatusCode)
		answer, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(answer))
		if err == nil {
			r.learn(c, resp.StatusCode, answer)
		}
	}
	r.linef("", "    graph %s -> %s%s", what, status, fault)
	for _, v := range broken {
		r.violate(v.Invariant, v.Entity, "%s", v.Detail)
	}
	if unit.effect("after Graph "+what, r.mentions(what)) {
		r.linef("", "    CRASH after Graph %s (its answer is lost)", what)
		return nil, errCrashed
	}
	return resp, err
}

// write reports whether the request changes the tenant.
func (c gcall) write() bool {
	if len(c.Items) > 0 {
		return slices.ContainsFunc(c.Items, gcall.write)
	}
	return c.Method != http.MethodGet
}

func requestBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	return b, err
}

func parseCall(method, path, rawQuery string, body []byte) gcall {
	q, _ := url.ParseQuery(rawQuery)
	c := gcall{Method: strings.ToUpper(method), Path: path, Query: q, Body: plain(body)}
	if c.Path == "/$batch" {
		var env struct {
			Requests []struct {
				ID     string          `json:"id"`
				Method string          `json:"method"`
				URL    string          `json:"url"`
				Body   json.RawMessage `json:"body"`
			} `json:"requests"`
		}
		_ = json.Unmarshal(c.Body, &env)
		for _, it := range env.Requests {
			p, rq, _ := strings.Cut(it.URL, "?")
			if dp, err := url.PathUnescape(p); err == nil {
				p = dp
			}
			item := parseCall(it.Method, p, rq, it.Body)
			item.ID = it.ID
			c.Items = append(c.Items, item)
		}
	}
	return c
}

// plain gunzips a body the SDK compressed (stint leaves compression out,
// but the wire must not depend on that).
func plain(b []byte) []byte {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return b
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return b
	}
	return out
}

// segments of a path, without the empty first one.
func segments(p string) []string { return strings.Split(strings.TrimPrefix(p, "/"), "/") }

// accountEnabled reads a PATCH body's accountEnabled, if it has one.
func accountEnabled(body []byte) (bool, bool) {
	var b struct {
		AccountEnabled *bool `json:"accountEnabled"`
	}
	if json.Unmarshal(body, &b) != nil || b.AccountEnabled == nil {
		return false, false
	}
	return *b.AccountEnabled, true
}

// label names an object id by what it stands for: the person whose
// account it is, or the access key of a group.
func (r *run) label(id string) string {
	if n, ok := r.names[strings.ToLower(id)]; ok {
		return n
	}
	if u, ok := r.sys.tenant.User(id); ok {
		if e := r.entityOf(u); e != "" {
			r.names[strings.ToLower(id)] = e
			return e
		}
	}
	return "?" + id
}

// describe says what a request does, in the simulation's names; it is
// also the request's identity for deciding faults.
func (r *run) describe(c gcall) string {
	if len(c.Items) > 0 {
		parts := make([]string, len(c.Items))
		for i, it := range c.Items {
			parts[i] = r.describe(it)
		}
		slices.Sort(parts) // the same batch whatever order stint listed it in
		return "$batch[" + strings.Join(parts, "; ") + "]"
	}
	s := segments(c.Path)
	switch {
	case c.Path == "/users" && c.Method == http.MethodGet:
		return "GET find " + r.filterEntity(c.Query.Get("$filter"))
	case c.Path == "/invitations":
		return "POST invite " + r.invitee(c.Body)
	case len(s) == 4 && s[0] == "groups" && s[2] == "members" && s[3] == "$ref":
		return "POST add " + r.refEntity(c.Body) + " to " + r.label(s[1])
	case len(s) == 5 && s[0] == "groups" && s[4] == "$ref":
		return "DELETE remove " + r.label(s[3]) + " from " + r.label(s[1])
	case len(s) >= 3 && s[0] == "groups" && s[2] == "members":
		return "GET list " + r.label(s[1])
	case len(s) == 2 && s[0] == "groups":
		return c.Method + " group " + r.label(s[1])
	case len(s) == 2 && s[0] == "users" && c.Method == http.MethodPatch:
		if v, ok := accountEnabled(c.Body); ok {
			return fmt.Sprintf("PATCH accountEnabled=%v on %s", v, r.label(s[1]))
		}
		return "PATCH " + r.label(s[1])
	case len(s) >= 2 && s[0] == "users":
		return c.Method + " " + strings.Join(append([]string{"users", r.label(s[1])}, s[2:]...), "/")
	}
	return c.Method + " " + c.Path
}

// filterEntity finds whose email a user lookup's $filter asks for.
func (r *run) filterEntity(filter string) string {
	_, rest, ok := strings.Cut(filter, "mail eq '")
	if !ok {
		return "?"
	}
	email, _, _ := strings.Cut(rest, "'")
	if e, ok := r.byEmail[strings.ToLower(email)]; ok {
		return e
	}
	return email
}

func (r *run) invitee(body []byte) string {
	var b struct {
		Email string `json:"invitedUserEmailAddress"`
	}
	_ = json.Unmarshal(body, &b)
	if e, ok := r.byEmail[strings.ToLower(b.Email)]; ok {
		return e
	}
	return b.Email
}

func (r *run) refEntity(body []byte) string {
	var b struct {
		Ref string `json:"@odata.id"`
	}
	_ = json.Unmarshal(body, &b)
	return r.label(b.Ref[strings.LastIndex(b.Ref, "/")+1:])
}

// observe checks a request as it leaves, against the tenant as it is now,
// and returns what it breaks.
func (r *run) observe(c gcall, broken []Violation) []Violation {
	for _, it := range c.Items {
		broken = r.observe(it, broken)
	}
	add := func(n int, who, format string, args ...any) {
		broken = append(broken, Violation{Invariant: n, Entity: who, Detail: fmt.Sprintf(format, args...)})
	}
	s := segments(c.Path)
	switch {
	case len(s) == 2 && s[0] == "users" && c.Method == http.MethodPatch:
		enabled, ok := accountEnabled(c.Body)
		if !ok {
			return broken
		}
		u, exists := r.sys.tenant.User(s[1])
		who := r.label(s[1])
		if at, ok := r.adminDisabled[strings.ToLower(s[1])]; ok && enabled {
			add(3, who, "stint sent accountEnabled=true for account %s, which an administrator disabled at %s", s[1], stamp(at))
		}
		if exists && !enabled && strings.EqualFold(u.UserType, "Member") {
			add(4, who, "stint sent accountEnabled=false for account %s, a Member at that moment (members are never disabled by stint)", s[1])
		}
	case c.Path == "/invitations" && c.Method == http.MethodPost:
		var b struct {
			Email string `json:"invitedUserEmailAddress"`
		}
		_ = json.Unmarshal(c.Body, &b)
		if u, ok := r.holder(b.Email); ok {
			add(5, r.invitee(c.Body), "stint invited %s although account %s (%s) had that address", b.Email, u.ID, u.UserType)
		}
	}
	return broken
}

// holder finds a user that has this address: as mail or other mail, or
// in the guest UPN Entra makes from it (alias_domain#EXT#@tenant).
func (r *run) holder(email string) (sandbox.User, bool) {
	if u, ok := r.sys.tenant.UserByMail(email); ok {
		return u, true
	}
	upn := strings.Replace(strings.ToLower(email), "@", "_", 1) + "#EXT#@" + r.sys.tenant.Domain()
	return r.sys.tenant.User(upn)
}

// learn notes the accounts stint resolved: the answer of a lookup or of an
// invitation names the account stint will act on for that person.
func (r *run) learn(c gcall, status int, answer []byte) {
	if len(c.Items) > 0 && status == http.StatusOK {
		var env struct {
			Responses []struct {
				ID     string `json:"id"`
				Status int    `json:"status"`
			} `json:"responses"`
		}
		_ = json.Unmarshal(answer, &env)
		for _, it := range c.Items {
			for _, res := range env.Responses {
				if res.ID == it.ID {
					r.learn(it, res.Status, nil)
				}
			}
		}
		return
	}
	switch {
	case c.Path == "/users" && c.Method == http.MethodGet && status == http.StatusOK:
		var b struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
		}
		_ = json.Unmarshal(answer, &b)
		who := r.filterEntity(c.Query.Get("$filter"))
		for _, v := range b.Value {
			r.knew[strings.ToLower(v.ID)] = true
			r.names[strings.ToLower(v.ID)] = who
		}
	case c.Path == "/invitations" && status == http.StatusCreated:
		var b struct {
			InvitedUser struct {
				ID string `json:"id"`
			} `json:"invitedUser"`
		}
		_ = json.Unmarshal(answer, &b)
		if id := strings.ToLower(b.InvitedUser.ID); id != "" {
			r.knew[id] = true
			r.names[id] = r.invitee(c.Body)
		}
	}
}

// The faults the wire injects, with how often each is chosen.
var faultKinds = []struct {
	name   string
	weight int
	fault  sandbox.Fault
}{
	{"429 Retry-After 12 (surfaces)", 30, sandbox.Fault{Status: 429, RetryAfter: "12"}},
	{"429 Retry-After 0 (retried by the SDK)", 15, sandbox.Fault{Status: 429, RetryAfter: "0"}},
	{"503 Retry-After 12 (surfaces)", 15, sandbox.Fault{Status: 503, RetryAfter: "12"}},
	{"503 Retry-After 0 (retried by the SDK)", 10, sandbox.Fault{Status: 503, RetryAfter: "0"}},
	{"500 (not retried)", 12, sandbox.Fault{Status: 500}},
	{"dropped connection", 18, sandbox.Fault{Drop: true}},
}

// itemFaults are for items inside a $batch: stint retries throttled items
// itself after a real wait, which the simulation avoids; a failed item or
// a connection dropped mid-batch (the items before it ran) is what is left.
var itemFaults = []struct {
	name   string
	weight int
	fault  sandbox.Fault
}{
	{"$batch item 500", 50, sandbox.Fault{Status: 500, InBatch: true}},
	{"$batch item dropped (earlier items ran)", 50, sandbox.Fault{Drop: true, InBatch: true}},
}

// injectFaults decides this request's faults and has the tenant inject
// them; it returns a note for the trace.
func (r *run) injectFaults(c gcall, what string) string {
	n := r.occur[what]
	r.occur[what]++
	if r.faultRate == 0 {
		return ""
	}
	note := ""
	if unit(r.hash("fault", what, n)) < r.faultRate {
		k := pick(r.hash("kind", what, n), len(faultKinds), func(i int) int { return faultKinds[i].weight })
		f := faultKinds[k].fault
		f.Method, f.Path, f.Times = c.Method, c.Path, 1
		r.sys.tenant.Inject(f)
		r.stats.Faults[faultKinds[k].name]++
		note = " [fault: " + faultKinds[k].name + "]"
	}
	for i, it := range c.Items {
		key := "item " + r.describe(it)
		m := r.occur[key]
		r.occur[key]++
		if unit(r.hash("fault", key, m)) >= r.faultRate/2 {
			continue
		}
		k := pick(r.hash("kind", key, m), len(itemFaults), func(i int) int { return itemFaults[i].weight })
		f := itemFaults[k].fault
		f.Method, f.Path, f.Times = it.Method, it.Path, 1
		r.sys.tenant.Inject(f)
		r.stats.Faults[itemFaults[k].name]++
		note += fmt.Sprintf(" [fault on item %d: %s]", i, itemFaults[k].name)
	}
	return note
}

// hash mixes the seed with a decision's identity.
func (r *run) hash(parts ...any) uint64 {
	h := fnv.New64a()
	_ = binary.Write(h, binary.LittleEndian, r.sc.Seed)
	for _, p := range parts {
		fmt.Fprint(h, p, "\x00")
	}
	x := h.Sum64()
	// splitmix64's finaliser: FNV's low bits are weak.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// pick chooses an index by weight.
func pick(h uint64, n int, weight func(int) int) int {
	total := 0
	for i := range n {
		total += weight(i)
	}
	x := int(h % uint64(total))
	for i := range n {
		if x < weight(i) {
			return i
		}
		x -= weight(i)
	}
	return n - 1
}
