package sandbox

import (
	"slices"
	"strings"
)

// What makes a Conditional Access policy valid, beyond the shape of its
// body. The rules follow the Graph reference: "Create
// conditionalAccessPolicy" (a valid policy has an application rule, a user
// rule and a grant or session control), the required properties of
// conditionalAccessPolicy and conditionalAccessConditionSet, and the
// special considerations for passwordChange in
// conditionalAccessGrantControls. The sign-in frequency and persistent
// browser rules are the sandbox's reading of those types.

// validate says why Graph would refuse p, or returns nil. p is normalized.
func (p *Policy) validate() *policyError {
	switch {
	case strings.TrimSpace(p.DisplayName) == "":
		return badPolicy("The property 'displayName' is required.")
	case p.State == "":
		return badPolicy("The property 'state' is required. Possible values are: %s.", strings.Join(enumPolicyState, ", "))
	case p.Conditions == nil:
		return badPolicy("The property 'conditions' is required.")
	}
	if err := p.Conditions.validate(); err != nil {
		return err
	}
	if !p.GrantControls.present() && !p.SessionControls.present() {
		return badPolicy("A policy needs at least one grant control or session control: set 'grantControls' or 'sessionControls'.")
	}
	if g := p.GrantControls; g != nil {
		if err := g.validate(p.Conditions); err != nil {
			return err
		}
	}
	if s := p.SessionControls; s != nil {
		return s.validate()
	}
	return nil
}

func (c *PolicyConditions) validate() *policyError {
	a, u := c.Applications, c.Users
	switch {
	case a == nil:
		return badPolicy("The property 'conditions.applications' is required.")
	case len(a.IncludeApplications)+len(a.IncludeUserActions)+len(a.IncludeAuthenticationContextClassReferences) == 0:
		return badPolicy("The policy needs an application rule: 'conditions.applications' must include applications (or 'None'), user actions or authentication contexts.")
	case u == nil:
		return badPolicy("The property 'conditions.users' is required.")
	case len(u.IncludeUsers)+len(u.IncludeGroups)+len(u.IncludeRoles) == 0 && u.IncludeGuestsOrExternalUsers == nil:
		return badPolicy("The policy needs a user rule: 'conditions.users' must include users (or 'None'), groups, roles or guests or external users.")
	case len(c.ClientAppTypes) == 0:
		return badPolicy("The property 'conditions.clientAppTypes' is required. Possible values are: %s.", strings.Join(enumClientApp[:6], ", "))
	}
	if err := u.IncludeGuestsOrExternalUsers.validate("conditions.users.includeGuestsOrExternalUsers"); err != nil {
		return err
	}
	return u.ExcludeGuestsOrExternalUsers.validate("conditions.users.excludeGuestsOrExternalUsers")
}

func (g *PolicyGuests) validate(name string) *policyError {
	if g == nil {
		return nil
	}
	if strings.TrimSpace(g.GuestOrExternalUserTypes) == "" {
		return badPolicy("The property '%s.guestOrExternalUserTypes' is required.", name)
	}
	e := g.ExternalTenants
	switch {
	case e == nil:
		return nil
	case e.MembershipKind == "enumerated" && len(e.Members) == 0:
		return badPolicy("'%s.externalTenants' enumerates no tenants: set 'members'.", name)
	case e.MembershipKind == "all" && len(e.Members) > 0:
		return badPolicy("'%s.externalTenants' with membershipKind 'all' cannot list 'members'.", name)
	case e.MembershipKind == "":
		return badPolicy("The property '%s.externalTenants.membershipKind' is required.", name)
	}
	return nil
}

func (g *GrantControls) present() bool { return g != nil }

func (s *SessionControls) present() bool {
	return s != nil && (s.SignInFrequency != nil || s.PersistentBrowser != nil)
}

func (g *GrantControls) validate(c *PolicyConditions) *policyError {
	if g.Operator == "" {
		return badPolicy("The property 'grantControls.operator' is required. Possible values are: AND, OR.")
	}
	if len(g.BuiltInControls)+len(g.CustomAuthenticationFactors)+len(g.TermsOfUse) == 0 && g.AuthenticationStrength == nil {
		return badPolicy("'grantControls' requires no control: set 'builtInControls', 'customAuthenticationFactors', 'termsOfUse' or 'authenticationStrength'.")
	}
	if g.AuthenticationStrength != nil && g.AuthenticationStrength.ID == "" {
		return badPolicy("The property 'grantControls.authenticationStrength.id' is required.")
	}
	if slices.Contains(g.BuiltInControls, "passwordChange") {
		if !slices.Contains(g.BuiltInControls, "mfa") || g.Operator != "AND" {
			return badPolicy("The grant control 'passwordChange' must be accompanied by 'mfa' with the operator 'AND'.")
		}
		if len(c.UserRiskLevels) == 0 {
			return badPolicy("The grant control 'passwordChange' can be used only in a policy with 'conditions.userRiskLevels'.")
		}
	}
	return nil
}

func (s *SessionControls) validate() *policyError {
	if f := s.SignInFrequency; f != nil && f.IsEnabled && f.FrequencyInterval == "timeBased" {
		if f.Value < 1 || f.Type == "" {
			return badPolicy("'sessionControls.signInFrequency' with frequencyInterval 'timeBased' needs a 'value' of at least 1 and a 'type' (days or hours).")
		}
	}
	if b := s.PersistentBrowser; b != nil && b.IsEnabled && b.Mode == "" {
		return badPolicy("The property 'sessionControls.persistentBrowser.mode' is required when the control is enabled. Possible values are: always, never.")
	}
	return nil
}
