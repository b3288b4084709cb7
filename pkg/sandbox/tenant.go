package sandbox

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configures a Tenant. The zero value is usable.
type Options struct {
	// TenantID is the directory (tenant) id. Default: a random GUID.
	TenantID string
	// Domain is the initial domain, kept in lower case. Default
	// "contoso.onmicrosoft.com".
	// Member UPNs end in "@"+Domain, guest UPNs in "#EXT#@"+Domain.
	Domain string
	// Now is the clock for tokens, timestamps, throttling and the journal.
	// Default time.Now.
	Now func() time.Time
	// HTTPClient fetches the discovery documents and keys of the issuers
	// of federated credentials that have no Key. Default
	// http.DefaultClient; a test gives one that trusts its issuer's CA.
	HTTPClient *http.Client
	// NoPremium makes a tenant without Entra ID P1 or P2: sign-in activity
	// and the sign-in log answer 403
	// Authentication_RequestFromNonPremiumTenantOrB2CTenant. By default
	// the tenant has P1.
	NoPremium bool
	// Reports is the reports' throttle (auditLogs): the zero value is
	// Graph's documented 5 requests per 10 seconds per app.
	Reports ReportsLimit
}

// Tenant is an in-memory Entra tenant. All methods are safe for concurrent
// use, also while a server is answering requests.
type Tenant struct {
	now func() time.Time

	mu      sync.Mutex
	dir     directory
	faults  []*faultRule
	latency time.Duration
	thr     *throttler
	caThr   *bucket // the Conditional Access limit, tenant-wide; nil when off
	premium bool
	reports reportsThrottle
	journal []Request
	// store, set by PersistTo, keeps the directory on disk (persist.go).
	store *store

	keyOnce sync.Once
	key     *signingKey

	caOnce sync.Once
	ca     *authority
	caErr  error

	httpClient *http.Client
	oidc       issuerKeys
}

// directory is the saveable state: plain data, no keys, no clocks.
type directory struct {
	TenantID    string
	Domain      string
	seq         uint64
	users       []*userRec // in insertion order, seq ascending
	userByID    map[string]*userRec
	userByUPN   map[string]*userRec
	groups      []*groupRec
	groupByID   map[string]*groupRec
	apps        map[string]*App
	invitations []Invitation
	signIns     []*signInRec // the sign-in log, in the order scripted
	policies    []*Policy    // Conditional Access, in creation order
	policyByID  map[string]*Policy
	// changes collects what changed since the last flush to disk; nil
	// when the tenant is not persisted (changes.go).
	changes *changeLog
}

type userRec struct {
	seq uint64
	User
}

type groupRec struct {
	Group
	members []member          // insertion order, seq ascending
	isIn    map[string]uint64 // lower-case user id → seq
}

type member struct {
	seq    uint64
	userID string
}

// App is an application registration with a service principal in the
// tenant: something that can get tokens with the client-credentials grant.
type App struct {
	// ClientID is the application (client) id.
	ClientID string
	// Secret is the client secret; empty means no secret is accepted.
	Secret string
	// Certificate, when set, lets the app authenticate with a client
	// assertion (a JWT) signed by the certificate's key, RS256 or PS256.
	// The x5t / x5t#S256 header is optional; when present it must match.
	Certificate *x509.Certificate
	// Federated lists the federated identity credentials: assertions issued
	// by another identity provider that the app may present instead.
	Federated []FederatedCredential
	// Permissions are the granted application permissions (app roles of
	// Microsoft Graph), e.g. "User.Read.All". They go into the token's
	// "roles" claim when it is issued.
	Permissions []string
}

// FederatedCredential trusts assertions from another issuer. An assertion
// matches when its iss, sub and aud equal these values and it is signed
// (RS256 for an RSA key, ES256 for an ECDSA P-256 key) by Key or, when Key
// is nil, by the issuer's key its kid names, found as Entra finds it: by
// OpenID Connect discovery at Issuer (https), through Options.HTTPClient.
type FederatedCredential struct {
	Issuer, Subject, Audience string
	Key                       crypto.PublicKey
}

// User is a user object of the directory.
type User struct {
	// ID is the object id, a GUID; generated when empty.
	ID          string
	DisplayName string
	Mail        string
	OtherMails  []string
	// UserPrincipalName is generated when empty: "alias@Domain" for members
	// (alias from Mail, else DisplayName, else the id), and
	// "alias_domain#EXT#@Domain" for guests, from Mail.
	UserPrincipalName string
	// UserType is "Member" or "Guest"; default "Member".
	UserType string
	// AccountEnabled: note that the zero value is a disabled account.
	AccountEnabled bool
	// ExternalUserState is "PendingAcceptance" or "Accepted" for guests and
	// "" for members. AddUser defaults a guest's empty state to "Accepted":
	// a guest seeded directly stands for one who redeemed long ago.
	ExternalUserState string
	// CreatedDateTime defaults to Now().
	CreatedDateTime time.Time
	// EmployeeLeaveDateTime is the Lifecycle Workflows leave date; zero
	// means null.
	EmployeeLeaveDateTime time.Time
	// SessionsRevokedAt is set by POST /users/{id}/revokeSignInSessions.
	SessionsRevokedAt time.Time
	// SignInActivity is what Graph answers as signInActivity; SignIn keeps
	// it up to date. All zero: the user never signed in.
	SignInActivity SignInActivity
	// Sponsors are the object ids of the user's sponsors (users or
	// groups), in order: set by SetSponsors or by an invitation's
	// invitedUserSponsors.
	Sponsors []string
}

// Group is a group object of the directory.
type Group struct {
	// ID is the object id; generated when empty.
	ID                 string
	DisplayName        string
	IsAssignableToRole bool
	SecurityEnabled    bool
	MailEnabled        bool
}

// Invitation is one invitation accepted by POST /invitations.
type Invitation struct {
	ID                      string
	InvitedUserEmailAddress string
	InvitedUserDisplayName  string
	InvitedUserType         string
	SendInvitationMessage   bool
	RedirectURL             string
	RedeemURL               string
	InvitedUserID           string
	// Reused is true when the address belonged to an existing guest, whose
	// object was answered instead of a new one.
	Reused bool
	At     time.Time
}

// New returns an empty tenant.
func New(opts Options) *Tenant {
	t := &Tenant{now: opts.Now, httpClient: opts.HTTPClient, premium: !opts.NoPremium}
	t.reports.setLimit(opts.Reports)
	if t.httpClient == nil {
		t.httpClient = http.DefaultClient
	}
	if t.now == nil {
		t.now = time.Now
	}
	id := opts.TenantID
	if id == "" {
		id = newGUID()
	}
	domain := opts.Domain
	if domain == "" {
		domain = "contoso.onmicrosoft.com"
	}
	t.dir = newDirectory(id, domain)
	return t
}

func newDirectory(id, domain string) directory {
	return directory{
		TenantID:   id,
		Domain:     strings.ToLower(domain),
		userByID:   map[string]*userRec{},
		userByUPN:  map[string]*userRec{},
		groupByID:  map[string]*groupRec{},
		apps:       map[string]*App{},
		policyByID: map[string]*Policy{},
	}
}

// TenantID returns the tenant's directory id.
func (t *Tenant) TenantID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dir.TenantID
}

// Domain returns the tenant's initial domain.
func (t *Tenant) Domain() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dir.Domain
}

// AddApp registers an application (replacing one with the same client id).
// The tenant keeps its own copy.
func (t *Tenant) AddApp(a App) {
	a.Permissions = slices.Clone(a.Permissions)
	a.Federated = slices.Clone(a.Federated)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dir.apps[strings.ToLower(a.ClientID)] = &a
	t.dir.noteApp(&a)
}

// SetPermissions replaces the application permissions granted to an app.
//
// Like Entra, a token carries the roles granted when it was issued: tokens
// issued earlier keep their roles until they expire, and the change shows
// only in tokens issued afterwards. An unknown client id is ignored.
func (t *Tenant) SetPermissions(clientID string, perms ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a, ok := t.dir.apps[strings.ToLower(clientID)]; ok {
		a.Permissions = slices.Clone(perms)
		t.dir.noteApp(a)
	}
}

func (t *Tenant) app(clientID string) (App, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.dir.apps[strings.ToLower(clientID)]
	if !ok {
		return App{}, false
	}
	return *a, true
}

// AddUser adds a user, filling in the defaults documented on User, and
// returns it as stored. A user whose id already exists is replaced in place
// (its group memberships are kept).
func (t *Tenant) AddUser(u User) User {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addUserLocked(u)
}

func (t *Tenant) addUserLocked(u User) User {
	if u.ID == "" {
		u.ID = newGUID()
	}
	if u.UserType == "" {
		u.UserType = "Member"
	}
	guest := strings.EqualFold(u.UserType, "Guest")
	if guest && u.ExternalUserState == "" {
		u.ExternalUserState = "Accepted"
	}
	if u.CreatedDateTime.IsZero() {
		u.CreatedDateTime = t.now().UTC()
	}
	u.OtherMails = slices.Clone(u.OtherMails)
	u.Sponsors = slices.Clone(u.Sponsors)
	if u.UserPrincipalName == "" {
		u.UserPrincipalName = t.dir.uniqueUPN(u, guest || u.ExternalUserState != "")
	}
	t.dir.noteUser(t.dir.putUser(u))
	return u
}

// uniqueUPN builds a UPN for u the way Entra does, adding a number when the
// natural one is taken.
func (d *directory) uniqueUPN(u User, external bool) string {
	var base string
	switch {
	case external && u.Mail != "":
		base = strings.ReplaceAll(strings.ToLower(u.Mail), "@", "_") + "#EXT#"
	case u.Mail != "":
		base, _, _ = strings.Cut(strings.ToLower(u.Mail), "@")
	case u.DisplayName != "":
		base = strings.ToLower(strings.Join(strings.Fields(u.DisplayName), "."))
	default:
		base = strings.ToLower(u.ID)
	}
	upn := base + "@" + d.Domain
	for n := 2; d.userByUPN[strings.ToLower(upn)] != nil; n++ {
		if external {
			upn = fmt.Sprintf("%s%d#EXT#@%s", strings.TrimSuffix(base, "#EXT#"), n, d.Domain)
		} else {
			upn = fmt.Sprintf("%s%d@%s", base, n, d.Domain)
		}
	}
	return upn
}

// AddGroup adds a group (replacing one with the same id) and returns it as
// stored.
func (t *Tenant) AddGroup(g Group) Group {
	if g.ID == "" {
		g.ID = newGUID()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dir.putGroup(g)
	return g
}

// Errors of the seeding methods.
var (
	ErrNotFound      = errors.New("sandbox: no such object")
	ErrAlreadyMember = errors.New("sandbox: already a member")
)

// AddMember adds a user to a group directly (no permission checks). It
// fails with ErrNotFound for an unknown group or user and ErrAlreadyMember
// when the user is already a member.
func (t *Tenant) AddMember(groupID, userID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.dir.groupByID[strings.ToLower(groupID)]
	if g == nil {
		return fmt.Errorf("group %s: %w", groupID, ErrNotFound)
	}
	u := t.dir.userByID[strings.ToLower(userID)]
	if u == nil {
		return fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	if !t.dir.addMember(g, u.ID) {
		return fmt.Errorf("user %s in group %s: %w", userID, groupID, ErrAlreadyMember)
	}
	return nil
}

// RemoveMember removes a user from a group directly, as an administrator
// would in the portal (no permission checks, no journal entry). It fails
// with ErrNotFound for an unknown group or a user who is not a member.
func (t *Tenant) RemoveMember(groupID, userID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.dir.groupByID[strings.ToLower(groupID)]
	if g == nil {
		return fmt.Errorf("group %s: %w", groupID, ErrNotFound)
	}
	if !t.dir.removeMember(g, strings.ToLower(userID)) {
		return fmt.Errorf("user %s in group %s: %w", userID, groupID, ErrNotFound)
	}
	return nil
}

// SetAccountEnabled enables or disables a user directly, as an
// administrator would in the portal (no permission checks, no journal
// entry). It fails with ErrNotFound for an unknown user.
func (t *Tenant) SetAccountEnabled(userID string, enabled bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.dir.findUser(userID)
	if u == nil {
		return fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	u.AccountEnabled = enabled
	t.dir.noteUser(u)
	return nil
}

// SetUserType changes a user's userType ("Member" or "Guest") directly, as
// an administrator does when converting a B2B guest to a member; the UPN and
// memberships stay. It fails with ErrNotFound for an unknown user.
func (t *Tenant) SetUserType(userID, userType string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.dir.findUser(userID)
	if u == nil {
		return fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	u.UserType = userType
	t.dir.noteUser(u)
	return nil
}

// DeleteUser deletes a user directly, as an administrator would: the user
// and its memberships are gone, and Graph answers 404 for it. (Entra keeps
// deleted users restorable for 30 days; the sandbox has no restore.) It
// fails with ErrNotFound for an unknown user.
func (t *Tenant) DeleteUser(userID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.dir.findUser(userID)
	if u == nil {
		return fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	t.dir.deleteUser(u)
	return nil
}

// deleteUser removes u and its memberships.
func (d *directory) deleteUser(u *userRec) {
	for _, g := range d.groups {
		d.removeMember(g, u.ID)
	}
	delete(d.userByID, strings.ToLower(u.ID))
	delete(d.userByUPN, strings.ToLower(u.UserPrincipalName))
	d.users = slices.DeleteFunc(d.users, func(r *userRec) bool { return r == u })
	d.note(entry{UserDeleted: u.ID})
}

// addMember appends a membership; it reports false when it already exists.
func (d *directory) addMember(g *groupRec, userID string) bool {
	key := strings.ToLower(userID)
	if _, ok := g.isIn[key]; ok {
		return false
	}
	d.seq++
	g.members = append(g.members, member{seq: d.seq, userID: userID})
	g.isIn[key] = d.seq
	d.note(entry{MemberAdded: &membership{Group: g.ID, User: userID}})
	return true
}

// removeMember deletes a membership; it reports false when there was none.
func (d *directory) removeMember(g *groupRec, userID string) bool {
	key := strings.ToLower(userID)
	seq, ok := g.isIn[key]
	if !ok {
		return false
	}
	delete(g.isIn, key)
	i := sort.Search(len(g.members), func(i int) bool { return g.members[i].seq >= seq })
	removed := g.members[i].userID
	g.members = slices.Delete(g.members, i, i+1)
	d.note(entry{MemberRemoved: &membership{Group: g.ID, User: removed}})
	return true
}

// findUser looks a user up by object id or userPrincipalName, both
// case-insensitively, as Graph resolves /users/{id | userPrincipalName}.
func (d *directory) findUser(idOrUPN string) *userRec {
	k := strings.ToLower(idOrUPN)
	if u := d.userByID[k]; u != nil {
		return u
	}
	return d.userByUPN[k]
}

// User returns the user with this object id or userPrincipalName.
func (t *Tenant) User(id string) (User, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.dir.findUser(id)
	if u == nil {
		return User{}, false
	}
	return u.clone(), true
}

// UserByMail returns the first user whose mail, or failing that one of
// whose otherMails, equals mail (case-insensitively).
func (t *Tenant) UserByMail(mail string) (User, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, u := range t.dir.users {
		if strings.EqualFold(u.Mail, mail) {
			return u.clone(), true
		}
	}
	for _, u := range t.dir.users {
		for _, m := range u.OtherMails {
			if strings.EqualFold(m, mail) {
				return u.clone(), true
			}
		}
	}
	return User{}, false
}

// Users returns every user, in the order they were added.
func (t *Tenant) Users() []User {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]User, len(t.dir.users))
	for i, u := range t.dir.users {
		out[i] = u.clone()
	}
	return out
}

// Group returns the group with this id.
func (t *Tenant) Group(id string) (Group, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.dir.groupByID[strings.ToLower(id)]
	if g == nil {
		return Group{}, false
	}
	return g.Group, true
}

// Members returns the ids of a group's members in the order they were
// added (nil for an unknown group).
func (t *Tenant) Members(groupID string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.dir.groupByID[strings.ToLower(groupID)]
	if g == nil {
		return nil
	}
	out := make([]string, len(g.members))
	for i, m := range g.members {
		out[i] = m.userID
	}
	return out
}

// Invitations returns every invitation accepted by POST /invitations, in
// order.
func (t *Tenant) Invitations() []Invitation {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.dir.invitations)
}

func (u *userRec) clone() User {
	c := u.User
	c.OtherMails = slices.Clone(u.OtherMails)
	c.Sponsors = slices.Clone(u.Sponsors)
	return c
}

// newGUID returns a random (version 4) GUID in lower case.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
