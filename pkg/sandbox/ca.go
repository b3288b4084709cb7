package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Conditional Access policies (microsoft.graph.conditionalAccessPolicy,
// https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy):
// the model the sandbox stores, answers on the wire and saves, and the
// methods tests use to act as an administrator in the portal.
//
// The JSON encoding of Policy is Graph's wire form: nullable complex
// properties are pointers (nil is null) and the collections the service
// fills in come back as [] (see normalize).

// Policy states.
const (
	PolicyEnabled    = "enabled"
	PolicyDisabled   = "disabled"
	PolicyReportOnly = "enabledForReportingButNotEnforced"
)

// ErrInvalidPolicy is returned by AddPolicy and EditPolicy for a policy
// Graph would refuse; the message says why.
var ErrInvalidPolicy = errors.New("sandbox: invalid conditional access policy")

// Policy is a Conditional Access policy.
type Policy struct {
	// ID is a GUID set by the service.
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	// CreatedDateTime is set by the service when the policy is created.
	CreatedDateTime time.Time `json:"createdDateTime"`
	// ModifiedDateTime is nil until the policy is first changed: Graph
	// answers null for a policy never updated.
	ModifiedDateTime *time.Time `json:"modifiedDateTime"`
	// State is PolicyEnabled, PolicyDisabled or PolicyReportOnly.
	State           string            `json:"state"`
	Conditions      *PolicyConditions `json:"conditions"`
	GrantControls   *GrantControls    `json:"grantControls"`
	SessionControls *SessionControls  `json:"sessionControls"`
}

// PolicyConditions is a conditionalAccessConditionSet.
type PolicyConditions struct {
	Applications *PolicyApplications `json:"applications"`
	Users        *PolicyUsers        `json:"users"`
	// ClientAppTypes: all, browser, mobileAppsAndDesktopClients,
	// exchangeActiveSync, easSupported, other.
	ClientAppTypes             []string         `json:"clientAppTypes"`
	Platforms                  *PolicyPlatforms `json:"platforms"`
	Locations                  *PolicyLocations `json:"locations"`
	SignInRiskLevels           []string         `json:"signInRiskLevels"`
	UserRiskLevels             []string         `json:"userRiskLevels"`
	ServicePrincipalRiskLevels []string         `json:"servicePrincipalRiskLevels"`
}

// PolicyApplications is a conditionalAccessApplications: application ids
// or "All"/"None", user actions, authentication contexts.
type PolicyApplications struct {
	IncludeApplications                         []string `json:"includeApplications"`
	ExcludeApplications                         []string `json:"excludeApplications"`
	IncludeUserActions                          []string `json:"includeUserActions"`
	IncludeAuthenticationContextClassReferences []string `json:"includeAuthenticationContextClassReferences"`
}

// PolicyUsers is a conditionalAccessUsers: user ids (or "All", "None",
// "GuestsOrExternalUsers"), group ids and directory role ids.
type PolicyUsers struct {
	IncludeUsers                 []string      `json:"includeUsers"`
	ExcludeUsers                 []string      `json:"excludeUsers"`
	IncludeGroups                []string      `json:"includeGroups"`
	ExcludeGroups                []string      `json:"excludeGroups"`
	IncludeRoles                 []string      `json:"includeRoles"`
	ExcludeRoles                 []string      `json:"excludeRoles"`
	IncludeGuestsOrExternalUsers *PolicyGuests `json:"includeGuestsOrExternalUsers"`
	ExcludeGuestsOrExternalUsers *PolicyGuests `json:"excludeGuestsOrExternalUsers"`
}

// PolicyGuests is a conditionalAccessGuestsOrExternalUsers.
type PolicyGuests struct {
	// GuestOrExternalUserTypes is a flags value, comma-separated:
	// internalGuest, b2bCollaborationGuest, b2bCollaborationMember,
	// b2bDirectConnectUser, otherExternalUser, serviceProvider.
	GuestOrExternalUserTypes string                 `json:"guestOrExternalUserTypes"`
	ExternalTenants          *PolicyExternalTenants `json:"externalTenants"`
}

// PolicyExternalTenants is a conditionalAccessExternalTenants: all of them
// (MembershipKind "all") or the tenant ids in Members ("enumerated").
type PolicyExternalTenants struct {
	MembershipKind string   `json:"membershipKind"`
	Members        []string `json:"members,omitempty"`
}

// MarshalJSON writes the derived type Graph answers with, which clients
// use to tell the two kinds apart.
func (e PolicyExternalTenants) MarshalJSON() ([]byte, error) {
	if e.MembershipKind == "enumerated" {
		return json.Marshal(struct {
			Type           string   `json:"@odata.type"`
			MembershipKind string   `json:"membershipKind"`
			Members        []string `json:"members"`
		}{"#microsoft.graph.conditionalAccessEnumeratedExternalTenants", e.MembershipKind, nonNil(e.Members)})
	}
	return json.Marshal(struct {
		Type           string `json:"@odata.type"`
		MembershipKind string `json:"membershipKind"`
	}{"#microsoft.graph.conditionalAccessAllExternalTenants", e.MembershipKind})
}

// PolicyPlatforms is a conditionalAccessPlatforms: android, iOS, windows,
// windowsPhone, macOS, linux, all.
type PolicyPlatforms struct {
	IncludePlatforms []string `json:"includePlatforms"`
	ExcludePlatforms []string `json:"excludePlatforms"`
}

// PolicyLocations is a conditionalAccessLocations: named location ids or
// "All"/"AllTrusted".
type PolicyLocations struct {
	IncludeLocations []string `json:"includeLocations"`
	ExcludeLocations []string `json:"excludeLocations"`
}

// GrantControls is a conditionalAccessGrantControls.
type GrantControls struct {
	// Operator is "AND" or "OR".
	Operator string `json:"operator"`
	// BuiltInControls: block, mfa, compliantDevice, domainJoinedDevice,
	// approvedApplication, compliantApplication, passwordChange.
	BuiltInControls             []string                `json:"builtInControls"`
	CustomAuthenticationFactors []string                `json:"customAuthenticationFactors"`
	TermsOfUse                  []string                `json:"termsOfUse"`
	AuthenticationStrength      *AuthenticationStrength `json:"authenticationStrength"`
}

// AuthenticationStrength names an authenticationStrengthPolicy by id (the
// built-in ones are 00000000-0000-0000-0000-000000000002 to …04).
type AuthenticationStrength struct {
	ID string `json:"id"`
}

// SessionControls is a conditionalAccessSessionControls.
type SessionControls struct {
	SignInFrequency   *SignInFrequency   `json:"signInFrequency"`
	PersistentBrowser *PersistentBrowser `json:"persistentBrowser"`
}

// SignInFrequency is a signInFrequencySessionControl. Empty strings and a
// zero Value are null on the wire.
type SignInFrequency struct {
	IsEnabled bool `json:"isEnabled"`
	// Value is the number of Type units.
	Value int `json:"value"`
	// Type is "days" or "hours".
	Type string `json:"type"`
	// AuthenticationType is primaryAndSecondaryAuthentication (filled in
	// when not given) or secondaryAuthentication.
	AuthenticationType string `json:"authenticationType"`
	// FrequencyInterval is timeBased (filled in when not given) or
	// everyTime.
	FrequencyInterval string `json:"frequencyInterval"`
}

// MarshalJSON writes zero values as null.
func (s SignInFrequency) MarshalJSON() ([]byte, error) {
	var value any
	if s.Value != 0 {
		value = s.Value
	}
	return json.Marshal(object{{"isEnabled", s.IsEnabled}, {"value", value}, {"type", nullable(s.Type)},
		{"authenticationType", nullable(s.AuthenticationType)}, {"frequencyInterval", nullable(s.FrequencyInterval)}})
}

// PersistentBrowser is a persistentBrowserSessionControl.
type PersistentBrowser struct {
	IsEnabled bool `json:"isEnabled"`
	// Mode is "always" or "never"; empty is null.
	Mode string `json:"mode"`
}

// MarshalJSON writes an empty Mode as null.
func (p PersistentBrowser) MarshalJSON() ([]byte, error) {
	return json.Marshal(object{{"isEnabled", p.IsEnabled}, {"mode", nullable(p.Mode)}})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// normalize fills in what the service fills in: empty collections as []
// and the sign-in frequency's authenticationType and frequencyInterval.
func (p *Policy) normalize() {
	if c := p.Conditions; c != nil {
		c.ClientAppTypes = nonNil(c.ClientAppTypes)
		c.SignInRiskLevels = nonNil(c.SignInRiskLevels)
		c.UserRiskLevels = nonNil(c.UserRiskLevels)
		c.ServicePrincipalRiskLevels = nonNil(c.ServicePrincipalRiskLevels)
		if a := c.Applications; a != nil {
			a.IncludeApplications = nonNil(a.IncludeApplications)
			a.ExcludeApplications = nonNil(a.ExcludeApplications)
			a.IncludeUserActions = nonNil(a.IncludeUserActions)
			a.IncludeAuthenticationContextClassReferences = nonNil(a.IncludeAuthenticationContextClassReferences)
		}
		if u := c.Users; u != nil {
			for _, s := range []*[]string{&u.IncludeUsers, &u.ExcludeUsers, &u.IncludeGroups, &u.ExcludeGroups, &u.IncludeRoles, &u.ExcludeRoles} {
				*s = nonNil(*s)
			}
		}
		if pl := c.Platforms; pl != nil {
			pl.IncludePlatforms = nonNil(pl.IncludePlatforms)
			pl.ExcludePlatforms = nonNil(pl.ExcludePlatforms)
		}
		if l := c.Locations; l != nil {
			l.IncludeLocations = nonNil(l.IncludeLocations)
			l.ExcludeLocations = nonNil(l.ExcludeLocations)
		}
	}
	if g := p.GrantControls; g != nil {
		g.BuiltInControls = nonNil(g.BuiltInControls)
		g.CustomAuthenticationFactors = nonNil(g.CustomAuthenticationFactors)
		g.TermsOfUse = nonNil(g.TermsOfUse)
	}
	if s := p.SessionControls; s != nil && s.SignInFrequency != nil {
		f := s.SignInFrequency
		if f.AuthenticationType == "" {
			f.AuthenticationType = "primaryAndSecondaryAuthentication"
		}
		if f.FrequencyInterval == "" {
			f.FrequencyInterval = "timeBased"
		}
	}
}

// clone is a deep copy, through the wire form.
func (p *Policy) clone() Policy {
	var c Policy
	if err := json.Unmarshal(mustJSON(p), &c); err != nil {
		panic("sandbox: clone policy: " + err.Error())
	}
	return c
}

// policyFromBody turns a checked body (see checkPolicyBody) into a policy
// Graph would store, or says why Graph would refuse it.
func policyFromBody(body map[string]any) (Policy, *policyError) {
	var p Policy
	if err := json.Unmarshal(mustJSON(body), &p); err != nil {
		return p, badPolicy("The request body is not a valid conditionalAccessPolicy: %v", err)
	}
	p.normalize()
	return p, p.validate()
}

// rebuild runs a policy made in Go (by a test, as an administrator)
// through the same checks as a request body.
func rebuild(p Policy) (Policy, error) {
	var body map[string]any
	dec := json.NewDecoder(strings.NewReader(string(mustJSON(&p))))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return p, err
	}
	checked, perr := checkPolicyBody(body)
	if perr == nil {
		var q Policy
		if q, perr = policyFromBody(checked); perr == nil {
			q.ID, q.CreatedDateTime, q.ModifiedDateTime = p.ID, p.CreatedDateTime, p.ModifiedDateTime
			return q, nil
		}
	}
	return p, fmt.Errorf("%w: %s", ErrInvalidPolicy, perr.msg)
}

// Policies returns every Conditional Access policy, in the order they were
// created.
func (t *Tenant) Policies() []Policy {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Policy, len(t.dir.policies))
	for i, p := range t.dir.policies {
		out[i] = p.clone()
	}
	return out
}

// Policy returns the Conditional Access policy with this id.
func (t *Tenant) Policy(id string) (Policy, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.dir.policyByID[strings.ToLower(id)]
	if p == nil {
		return Policy{}, false
	}
	return p.clone(), true
}

// AddPolicy adds a policy directly, as an administrator would in the
// portal (no permission checks, no journal entry), and returns it as
// stored. It is checked as Graph checks a create (ErrInvalidPolicy); ID and
// CreatedDateTime are filled in when empty. A policy whose id exists
// replaces it.
func (t *Tenant) AddPolicy(p Policy) (Policy, error) {
	if p.ID == "" {
		p.ID = newGUID()
	}
	if p.CreatedDateTime.IsZero() {
		p.CreatedDateTime = t.now().UTC()
	}
	q, err := rebuild(p)
	if err != nil {
		return Policy{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dir.putPolicy(q)
	return q.clone(), nil
}

// EditPolicy changes a policy directly, as an administrator would in the
// portal: edit gets a copy to change. The result is checked as Graph checks
// an update (ErrInvalidPolicy leaves the policy as it was), and stored with
// ModifiedDateTime now; the id and CreatedDateTime cannot change. An unknown
// id is ErrNotFound. edit runs with the tenant locked: it must not call the
// Tenant.
func (t *Tenant) EditPolicy(id string, edit func(*Policy)) (Policy, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.dir.policyByID[strings.ToLower(id)]
	if old == nil {
		return Policy{}, fmt.Errorf("policy %s: %w", id, ErrNotFound)
	}
	p := old.clone()
	edit(&p)
	now := t.now().UTC()
	p.ID, p.CreatedDateTime, p.ModifiedDateTime = old.ID, old.CreatedDateTime, &now
	q, err := rebuild(p)
	if err != nil {
		return Policy{}, err
	}
	t.dir.putPolicy(q)
	return q.clone(), nil
}

// SetPolicyState sets a policy's state directly (PolicyEnabled,
// PolicyDisabled or PolicyReportOnly), as EditPolicy does.
func (t *Tenant) SetPolicyState(id, state string) error {
	_, err := t.EditPolicy(id, func(p *Policy) { p.State = state })
	return err
}

// RemoveIncludedGroup drops a group from a policy's
// conditions.users.includeGroups directly, as EditPolicy does. It fails
// with ErrNotFound for an unknown policy or a group not included, and with
// ErrInvalidPolicy when the policy would include no one (as the portal
// refuses to save it).
func (t *Tenant) RemoveIncludedGroup(policyID, groupID string) error {
	found := false
	_, err := t.EditPolicy(policyID, func(p *Policy) {
		if p.Conditions == nil || p.Conditions.Users == nil {
			return
		}
		u := p.Conditions.Users
		n := len(u.IncludeGroups)
		u.IncludeGroups = slices.DeleteFunc(u.IncludeGroups, func(g string) bool { return strings.EqualFold(g, groupID) })
		found = len(u.IncludeGroups) < n
	})
	if err == nil && !found {
		return fmt.Errorf("group %s in policy %s: %w", groupID, policyID, ErrNotFound)
	}
	return err
}

// DeletePolicy deletes a policy directly, as an administrator would. It
// fails with ErrNotFound for an unknown id.
func (t *Tenant) DeletePolicy(id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dir.deletePolicy(id) {
		return fmt.Errorf("policy %s: %w", id, ErrNotFound)
	}
	return nil
}

// putPolicy stores p, replacing the policy with its id in place.
func (d *directory) putPolicy(p Policy) {
	key := strings.ToLower(p.ID)
	if old := d.policyByID[key]; old != nil {
		*old = p
		d.notePolicy(old)
		return
	}
	rec := &p
	d.policies = append(d.policies, rec)
	d.policyByID[key] = rec
	d.notePolicy(rec)
}

func (d *directory) deletePolicy(id string) bool {
	p := d.policyByID[strings.ToLower(id)]
	if p == nil {
		return false
	}
	delete(d.policyByID, strings.ToLower(id))
	d.policies = slices.DeleteFunc(d.policies, func(q *Policy) bool { return q == p })
	d.note(entry{PolicyDeleted: p.ID})
	return true
}
