package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sign-ins: the tenant's sign-in log (GET /auditLogs/signIns), the users'
// signInActivity it feeds, the Entra ID P1 licence both need, and the
// reports' throttle.

// SignInActivity is a user's signInActivity
// (https://learn.microsoft.com/graph/api/resources/signinactivity). A zero
// time is null; all three zero means the user never signed in, and Graph
// then leaves signInActivity out.
type SignInActivity struct {
	// LastSignIn is the last interactive sign-in, successful or not
	// (lastSignInDateTime).
	LastSignIn time.Time
	// LastNonInteractiveSignIn is the last non-interactive sign-in,
	// successful or not (lastNonInteractiveSignInDateTime).
	LastNonInteractiveSignIn time.Time
	// LastSuccessfulSignIn is the last successful sign-in, interactive or
	// not (lastSuccessfulSignInDateTime).
	LastSuccessfulSignIn time.Time
}

func (a SignInActivity) never() bool {
	return a.LastSignIn.IsZero() && a.LastNonInteractiveSignIn.IsZero() && a.LastSuccessfulSignIn.IsZero()
}

// SignIn is one sign-in a test scripts with Tenant.SignIn.
type SignIn struct {
	// At is when it happened; default Now().
	At          time.Time
	Success     bool
	Interactive bool
	// App is the application's display name; default "Microsoft Teams".
	App string
	// AppID is the application's id; default a GUID made from App.
	AppID string
	// IP is the client's address; default "203.0.113.7".
	IP string
	// ErrorCode and FailureReason describe a failure; a failed sign-in
	// without them gets 50126 "Invalid username or password or Invalid
	// on-premise username or password.". A success always has 0 and no
	// reason.
	ErrorCode     int
	FailureReason string
}

// signInRec is an entry of the sign-in log.
type signInRec struct {
	seq                      uint64
	id                       string
	at                       time.Time
	userID, upn, displayName string
	appID, app, ip           string
	interactive              bool
	errorCode                int
	failureReason            string
}

// SignIn appends a sign-in by the user to the tenant's sign-in log and
// updates the user's signInActivity as Entra does: an interactive sign-in
// sets lastSignInDateTime and a non-interactive one
// lastNonInteractiveSignInDateTime, failures included; a successful one
// also sets lastSuccessfulSignInDateTime. A sign-in older than what the
// activity holds leaves it as it is. It fails with ErrNotFound for an
// unknown user. It returns the entry's id.
func (t *Tenant) SignIn(userID string, s SignIn) (string, error) {
	if s.At.IsZero() {
		s.At = t.now()
	}
	if s.App == "" {
		s.App = "Microsoft Teams"
	}
	if s.AppID == "" {
		s.AppID = guidFrom(s.App)
	}
	if s.IP == "" {
		s.IP = "203.0.113.7"
	}
	if s.Success {
		s.ErrorCode, s.FailureReason = 0, ""
	} else if s.ErrorCode == 0 {
		s.ErrorCode, s.FailureReason = 50126, "Invalid username or password or Invalid on-premise username or password."
	}
	at := s.At.UTC()
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.dir.findUser(userID)
	if u == nil {
		return "", fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	a := &u.SignInActivity
	if s.Interactive {
		a.LastSignIn = later(a.LastSignIn, at)
	} else {
		a.LastNonInteractiveSignIn = later(a.LastNonInteractiveSignIn, at)
	}
	if s.Success {
		a.LastSuccessfulSignIn = later(a.LastSuccessfulSignIn, at)
	}
	t.dir.noteUser(u)
	t.dir.seq++
	rec := &signInRec{
		seq: t.dir.seq, id: newGUID(), at: at,
		userID: u.ID, upn: u.UserPrincipalName, displayName: u.DisplayName,
		appID: s.AppID, app: s.App, ip: s.IP, interactive: s.Interactive,
		errorCode: s.ErrorCode, failureReason: s.FailureReason,
	}
	t.dir.signIns = append(t.dir.signIns, rec)
	return rec.id, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// guidFrom makes a stable GUID-shaped id from a name, so that a scripted
// app keeps one appId.
func guidFrom(name string) string {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(h>>32), uint16(h>>16), uint16(h)&0xfff, uint16(h>>4)&0xfff, h&0xffffffffffff)
}

// SetPremium gives the tenant Entra ID P1 (true) or takes it away. Without
// it, signInActivity and the sign-in log answer 403.
func (t *Tenant) SetPremium(p bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.premium = p
}

func (t *Tenant) hasPremium() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.premium
}

// requirePremium answers Graph's 403 for a tenant without Entra ID P1 or
// P2. The code and message are those Graph sends for signInActivity and
// the sign-in log (reported in microsoft-graph-docs issues 12772, 14120).
func (c *gcall) requirePremium() *gresp {
	if c.premium {
		return nil
	}
	return c.fail(http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Neither tenant is B2C or tenant doesn't have premium license")
}

// SetSponsors replaces a user's sponsors with these users or groups, as an
// administrator would in the portal. It fails with ErrNotFound for an
// unknown user or sponsor.
func (t *Tenant) SetSponsors(userID string, sponsorIDs ...string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.dir.findUser(userID)
	if u == nil {
		return fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	ids := make([]string, 0, len(sponsorIDs))
	for _, id := range sponsorIDs {
		canon, ok := t.dir.objectID(id)
		if !ok {
			return fmt.Errorf("sponsor %s: %w", id, ErrNotFound)
		}
		ids = append(ids, canon)
	}
	u.Sponsors = ids
	t.dir.noteUser(u)
	return nil
}

// objectID resolves a user or group id to the id as stored.
func (d *directory) objectID(id string) (string, bool) {
	if u := d.userByID[strings.ToLower(id)]; u != nil {
		return u.ID, true
	}
	if g := d.groupByID[strings.ToLower(id)]; g != nil {
		return g.ID, true
	}
	return "", false
}

// ReportsLimit is the reports' throttle: Graph's throttling reference
// gives "5 requests per 10 seconds" per app and tenant for the identity
// and access reports (auditLogs). Requests is 0 for the documented 5, or
// less than 0 for no limit; Per is 0 for 10 seconds.
type ReportsLimit struct {
	Requests int
	Per      time.Duration
}

// reportsThrottle holds one bucket per app; guarded by Tenant.mu.
type reportsThrottle struct {
	limit ReportsLimit
	apps  map[string]*bucket
}

func (r *reportsThrottle) setLimit(l ReportsLimit) {
	if l.Requests == 0 {
		l.Requests = 5
	}
	if l.Per <= 0 {
		l.Per = 10 * time.Second
	}
	r.limit, r.apps = l, map[string]*bucket{}
}

// SetReportsLimit changes the reports' throttle, with every app's
// allowance full.
func (t *Tenant) SetReportsLimit(l ReportsLimit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reports.setLimit(l)
}

// isReports reports whether c addresses /auditLogs.
func isReports(c *gcall) bool {
	p := strings.ToLower(strings.Trim(c.path, "/"))
	return p == "auditlogs" || strings.HasPrefix(p, "auditlogs/")
}

// throttleReports charges c to its app's reports allowance; it answers 429
// with Retry-After (the wait, in seconds) when the allowance is spent. A
// throttled request is not counted.
func (t *Tenant) throttleReports(c *gcall) *gresp {
	now := t.now()
	t.mu.Lock()
	r := &t.reports
	if r.limit.Requests < 0 {
		t.mu.Unlock()
		return nil
	}
	b := r.apps[c.app.appID]
	if b == nil {
		b = newBucket(r.limit.Requests, r.limit.Per, now)
		r.apps[c.app.appID] = b
	}
	b.refill(now)
	wait := b.wait(1)
	if wait == 0 {
		b.level--
	}
	t.mu.Unlock()
	if wait == 0 {
		return nil
	}
	res := c.fail(http.StatusTooManyRequests, "TooManyRequests", "Please retry again later.")
	res.header.Set("Retry-After", retryAfter(wait))
	return res
}
