package config

import (
	"strconv"
	"strings"

	"github.com/stintdev/stint/pkg/fault"
)

// Policies is the configuration of the Conditional Access policies stint
// manages (pkg/policy).
type Policies struct {
	// BreakGlass are excluded from every policy; none when
	// STINT_BREAK_GLASS is unset (pkg/policy refuses to work then).
	BreakGlass []Principal
	// AllowedApps are the apps a block-all-apps policy leaves out.
	AllowedApps []string
	// SignInFrequency is Graph's signInFrequency value and type.
	SignInFrequency Frequency
	// AuthStrength, when set, replaces plain MFA in the MFA policy.
	AuthStrength string
	// Dir holds the admin's own policy files; "" for the baseline.
	Dir string
	// RepairDrift puts a policy changed by hand back (STINT_POLICY_DRIFT=repair).
	RepairDrift bool
}

// Principal is a user or a group, by object id.
type Principal struct {
	Kind string // "user" or "group"
	ID   string
}

// Frequency is a sign-in frequency as Graph writes it.
type Frequency struct {
	Value int
	Type  string // "hours" or "days"
}

func (f Frequency) String() string {
	return strconv.Itoa(f.Value) + f.Type[:1]
}

func (l *loader) policies() Policies {
	var p Policies
	if raw := l.str("STINT_BREAK_GLASS"); raw != "" {
		var err error
		p.BreakGlass, err = ParseBreakGlass(raw)
		l.check(err)
	}
	for _, app := range splitList(l.str("STINT_ALLOWED_APPS")) {
		if app != "Office365" && !guidRe.MatchString(app) {
			l.check(fault.Errorf(fault.Invalid, "STINT_ALLOWED_APPS: %q is not an application (client) id: write the app's GUID, or Office365", app))
			continue
		}
		p.AllowedApps = append(p.AllowedApps, strings.ToLower(app))
	}
	if raw := l.str("STINT_SIGNIN_FREQUENCY"); raw != "" {
		var err error
		p.SignInFrequency, err = ParseFrequency(raw)
		l.check(err)
	}
	if raw := l.str("STINT_AUTH_STRENGTH"); raw != "" {
		if !guidRe.MatchString(raw) {
			l.check(fault.Errorf(fault.Invalid, "STINT_AUTH_STRENGTH %q: want an authentication strength policy id (a GUID)", raw))
		}
		p.AuthStrength = strings.ToLower(raw)
	}
	p.Dir = l.str("STINT_POLICIES")
	p.RepairDrift = l.oneOf("STINT_POLICY_DRIFT", "report", "repair") == "repair"
	return p
}

// ParseBreakGlass reads STINT_BREAK_GLASS: user:<objectId> or
// group:<objectId>, comma separated.
func ParseBreakGlass(raw string) ([]Principal, error) {
	var out []Principal
	for _, entry := range splitList(raw) {
		kind, id, _ := strings.Cut(entry, ":")
		if (kind != "user" && kind != "group") || !guidRe.MatchString(id) {
			return nil, fault.Errorf(fault.Invalid, "STINT_BREAK_GLASS: %q: write user:<objectId> or group:<objectId> (the object id of an emergency-access account or of a group of them)", entry)
		}
		out = append(out, Principal{Kind: kind, ID: strings.ToLower(id)})
	}
	return out, nil
}

// ParseFrequency reads STINT_SIGNIN_FREQUENCY: 1h–23h or 1d–365d, the
// ranges Graph accepts.
func ParseFrequency(raw string) (Frequency, error) {
	bad := fault.Errorf(fault.Invalid, "STINT_SIGNIN_FREQUENCY %q: want 1h to 23h, or 1d to 365d", raw)
	if len(raw) < 2 {
		return Frequency{}, bad
	}
	n, err := strconv.Atoi(raw[:len(raw)-1])
	switch unit := raw[len(raw)-1]; {
	case err != nil:
		return Frequency{}, bad
	case unit == 'h' && n >= 1 && n <= 23:
		return Frequency{Value: n, Type: "hours"}, nil
	case unit == 'd' && n >= 1 && n <= 365:
		return Frequency{Value: n, Type: "days"}, nil
	}
	return Frequency{}, bad
}
