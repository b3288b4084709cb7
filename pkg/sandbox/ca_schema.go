package sandbox

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// The shape of a conditionalAccessPolicy request body, as Graph's v1.0
// metadata declares it: every property of each complex type with its kind
// and, for enumerations, the documented members. A body is checked against
// it before anything else, so that an unknown property anywhere, a value of
// the wrong type or an undocumented enumeration member is refused (Graph
// rejects unknown properties on this entity rather than ignoring them).

type propKind int

const (
	kString propKind = iota
	kBool
	kInt32
	kStrings
	kObject
	kFlags    // a flags enumeration: members separated by commas
	kReadOnly // set by the service: accepted and ignored, so a client may send back what it read
	kNullOnly // in Graph's schema but not modelled by the sandbox: only null is accepted
)

type propDef struct {
	kind propKind
	enum []string
	obj  *complexType
}

type complexType struct {
	name  string   // e.g. "microsoft.graph.conditionalAccessUsers"
	alt   []string // derived types also accepted as @odata.type
	props map[string]propDef
}

var (
	enumPolicyState    = []string{PolicyEnabled, PolicyDisabled, PolicyReportOnly}
	enumClientApp      = []string{"all", "browser", "mobileAppsAndDesktopClients", "exchangeActiveSync", "easSupported", "other", "unknownFutureValue"}
	enumPlatform       = []string{"android", "iOS", "windows", "windowsPhone", "macOS", "linux", "all", "unknownFutureValue"}
	enumRiskLevel      = []string{"low", "medium", "high", "hidden", "none", "unknownFutureValue"}
	enumGrantControl   = []string{"block", "mfa", "compliantDevice", "domainJoinedDevice", "approvedApplication", "compliantApplication", "passwordChange", "unknownFutureValue"}
	enumOperator       = []string{"AND", "OR"}
	enumFrequencyType  = []string{"days", "hours"}
	enumFrequencyAuth  = []string{"primaryAndSecondaryAuthentication", "secondaryAuthentication", "unknownFutureValue"}
	enumFrequencyEvery = []string{"timeBased", "everyTime", "unknownFutureValue"}
	enumBrowserMode    = []string{"always", "never"}
	enumGuestTypes     = []string{"none", "internalGuest", "b2bCollaborationGuest", "b2bCollaborationMember", "b2bDirectConnectUser", "otherExternalUser", "serviceProvider", "unknownFutureValue"}
	enumMembershipKind = []string{"all", "enumerated", "unknownFutureValue"}
)

func strs(enum ...string) propDef  { return propDef{kind: kStrings, enum: enum} }
func str(enum ...string) propDef   { return propDef{kind: kString, enum: enum} }
func obj(t *complexType) propDef   { return propDef{kind: kObject, obj: t} }
func nullOnly() propDef            { return propDef{kind: kNullOnly} }
func readOnly() propDef            { return propDef{kind: kReadOnly} }
func flags(enum ...string) propDef { return propDef{kind: kFlags, enum: enum} }
func kindOf(k propKind) propDef    { return propDef{kind: k} }
func graphType(name string) string { return "microsoft.graph." + name }
func anyStrings() propDef          { return strs() }
func anyString() propDef           { return str() }

var (
	caExternalTenants = &complexType{
		name: graphType("conditionalAccessExternalTenants"),
		alt:  []string{graphType("conditionalAccessAllExternalTenants"), graphType("conditionalAccessEnumeratedExternalTenants")},
		props: map[string]propDef{
			"membershipKind": str(enumMembershipKind...),
			"members":        anyStrings(),
		},
	}
	caGuests = &complexType{name: graphType("conditionalAccessGuestsOrExternalUsers"), props: map[string]propDef{
		"guestOrExternalUserTypes": flags(enumGuestTypes...),
		"externalTenants":          obj(caExternalTenants),
	}}
	caUsers = &complexType{name: graphType("conditionalAccessUsers"), props: map[string]propDef{
		"includeUsers": anyStrings(), "excludeUsers": anyStrings(),
		"includeGroups": anyStrings(), "excludeGroups": anyStrings(),
		"includeRoles": anyStrings(), "excludeRoles": anyStrings(),
		"includeGuestsOrExternalUsers": obj(caGuests), "excludeGuestsOrExternalUsers": obj(caGuests),
	}}
	caApplications = &complexType{name: graphType("conditionalAccessApplications"), props: map[string]propDef{
		"includeApplications": anyStrings(), "excludeApplications": anyStrings(),
		"includeUserActions": anyStrings(), "includeAuthenticationContextClassReferences": anyStrings(),
		"applicationFilter": nullOnly(),
	}}
	caPlatforms = &complexType{name: graphType("conditionalAccessPlatforms"), props: map[string]propDef{
		"includePlatforms": strs(enumPlatform...), "excludePlatforms": strs(enumPlatform...),
	}}
	caLocations = &complexType{name: graphType("conditionalAccessLocations"), props: map[string]propDef{
		"includeLocations": anyStrings(), "excludeLocations": anyStrings(),
	}}
	caConditions = &complexType{name: graphType("conditionalAccessConditionSet"), props: map[string]propDef{
		"applications":               obj(caApplications),
		"users":                      obj(caUsers),
		"clientAppTypes":             strs(enumClientApp...),
		"platforms":                  obj(caPlatforms),
		"locations":                  obj(caLocations),
		"signInRiskLevels":           strs(enumRiskLevel...),
		"userRiskLevels":             strs(enumRiskLevel...),
		"servicePrincipalRiskLevels": strs(enumRiskLevel...),
		"clientApplications":         nullOnly(),
		"devices":                    nullOnly(),
		"authenticationFlows":        nullOnly(),
		"insiderRiskLevels":          nullOnly(),
	}}
	// Only the id of an authentication strength is written; what Graph
	// expands around it is read-only here.
	caAuthStrength = &complexType{name: graphType("authenticationStrengthPolicy"), props: map[string]propDef{
		"id": anyString(), "displayName": readOnly(), "description": readOnly(), "policyType": readOnly(),
		"requirementsSatisfied": readOnly(), "allowedCombinations": readOnly(),
		"createdDateTime": readOnly(), "modifiedDateTime": readOnly(),
	}}
	caGrant = &complexType{name: graphType("conditionalAccessGrantControls"), props: map[string]propDef{
		"operator":                    str(enumOperator...),
		"builtInControls":             strs(enumGrantControl...),
		"customAuthenticationFactors": anyStrings(),
		"termsOfUse":                  anyStrings(),
		"authenticationStrength":      obj(caAuthStrength),
	}}
	caSignInFrequency = &complexType{name: graphType("signInFrequencySessionControl"), props: map[string]propDef{
		"isEnabled": kindOf(kBool), "value": kindOf(kInt32), "type": str(enumFrequencyType...),
		"authenticationType": str(enumFrequencyAuth...), "frequencyInterval": str(enumFrequencyEvery...),
	}}
	caPersistentBrowser = &complexType{name: graphType("persistentBrowserSessionControl"), props: map[string]propDef{
		"isEnabled": kindOf(kBool), "mode": str(enumBrowserMode...),
	}}
	caSession = &complexType{name: graphType("conditionalAccessSessionControls"), props: map[string]propDef{
		"signInFrequency":                 obj(caSignInFrequency),
		"persistentBrowser":               obj(caPersistentBrowser),
		"applicationEnforcedRestrictions": nullOnly(),
		"cloudAppSecurity":                nullOnly(),
		"disableResilienceDefaults":       nullOnly(),
		"secureSignInSession":             nullOnly(),
	}}
	caPolicy = &complexType{name: graphType("conditionalAccessPolicy"), props: map[string]propDef{
		"id": readOnly(), "createdDateTime": readOnly(), "modifiedDateTime": readOnly(), "templateId": readOnly(),
		"displayName":     anyString(),
		"description":     nullOnly(),
		"state":           str(enumPolicyState...),
		"conditions":      obj(caConditions),
		"grantControls":   obj(caGrant),
		"sessionControls": obj(caSession),
	}}
)

// policyError is a refusal of a policy: an HTTP 400 with code and message.
type policyError struct{ code, msg string }

func badPolicy(format string, args ...any) *policyError {
	return &policyError{"BadRequest", fmt.Sprintf(format, args...)}
}

// checkPolicyBody checks a body (decoded with UseNumber) against the
// conditionalAccessPolicy type. It returns the body without annotations
// and read-only properties.
func checkPolicyBody(body map[string]any) (map[string]any, *policyError) {
	return checkObject(body, caPolicy, "")
}

func checkObject(v map[string]any, t *complexType, path string) (map[string]any, *policyError) {
	out := make(map[string]any, len(v))
	for k, val := range v {
		if k == "@odata.type" {
			s, _ := val.(string)
			s = strings.TrimPrefix(s, "#")
			if !strings.EqualFold(s, t.name) && !slices.ContainsFunc(t.alt, func(a string) bool { return strings.EqualFold(a, s) }) {
				return nil, badPolicy("A type named '%v' could not be resolved by the model; '%s' expects '%s'.", val, strings.TrimSuffix(path, "."), t.name)
			}
			continue
		}
		if strings.Contains(k, "@") {
			continue // an instance or property annotation, e.g. "authenticationStrength@odata.context"
		}
		def, ok := t.props[k]
		if !ok {
			return nil, badPolicy("The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type.", k, t.name)
		}
		name := path + k
		switch def.kind {
		case kReadOnly:
			continue
		case kNullOnly:
			if val != nil {
				return nil, &policyError{"Request_BadRequest", fmt.Sprintf("Property '%s' is not supported by the sandbox tenant.", name)}
			}
			continue
		}
		checked, err := checkValue(val, def, name)
		if err != nil {
			return nil, err
		}
		out[k] = checked
	}
	return out, nil
}

func checkValue(val any, def propDef, name string) (any, *policyError) {
	if val == nil {
		return nil, nil
	}
	wrongType := func(want string) (any, *policyError) {
		return nil, badPolicy("Invalid value for property '%s': a %s was expected.", name, want)
	}
	switch def.kind {
	case kString, kFlags:
		s, ok := val.(string)
		if !ok {
			return wrongType("string")
		}
		members := []string{s}
		if def.kind == kFlags {
			members = strings.Split(s, ",")
		}
		for _, m := range members {
			if err := checkMember(strings.TrimSpace(m), def.enum, name); err != nil {
				return nil, err
			}
		}
		return s, nil
	case kBool:
		if _, ok := val.(bool); !ok {
			return wrongType("boolean")
		}
		return val, nil
	case kInt32:
		n, ok := val.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil || i < math.MinInt32 || i > math.MaxInt32 {
			return wrongType("32-bit integer")
		}
		return i, nil
	case kStrings:
		list, ok := val.([]any)
		if !ok {
			return wrongType("collection of strings")
		}
		for _, item := range list {
			s, ok := item.(string)
			if !ok {
				return wrongType("collection of strings")
			}
			if err := checkMember(s, def.enum, name); err != nil {
				return nil, err
			}
		}
		return list, nil
	}
	m, ok := val.(map[string]any)
	if !ok {
		return wrongType(def.obj.name)
	}
	return checkObject(m, def.obj, name+".")
}

// checkMember refuses a value outside a documented enumeration (nil enum:
// any value). Enumeration members are case-sensitive in OData.
func checkMember(s string, enum []string, name string) *policyError {
	if enum == nil || slices.Contains(enum, s) {
		return nil
	}
	return badPolicy("Invalid value '%s' for property '%s'. Possible values are: %s.", s, name, strings.Join(enum, ", "))
}

// mergePatch applies a PATCH body to a policy's wire form: a complex value
// in the body is merged into the stored one property by property, any
// other value (a collection, a string, null) replaces what was stored.
// A complex value of another derived type replaces the stored one whole.
func mergePatch(dst, patch map[string]any) {
	for k, v := range patch {
		pm, ok1 := v.(map[string]any)
		dm, ok2 := dst[k].(map[string]any)
		if ok1 && ok2 && sameDerivedType(dm, pm) {
			mergePatch(dm, pm)
			continue
		}
		dst[k] = v
	}
}

func sameDerivedType(a, b map[string]any) bool {
	ka, _ := a["membershipKind"].(string)
	kb, ok := b["membershipKind"].(string)
	return !ok || ka == kb
}
