package sandbox

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const policiesPath = "/v1.0/identity/conditionalAccess/policies"

// caPerms are the permissions an app needs for every policy operation.
var caPerms = []string{"Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"}

// mfaBody is the first example of "Create conditionalAccessPolicy": MFA
// for Exchange Online outside trusted locations, for one group.
func mfaBody(group string) map[string]any {
	return map[string]any{
		"displayName": "Access to EXO requires MFA",
		"state":       "enabled",
		"conditions": map[string]any{
			"clientAppTypes": []string{"mobileAppsAndDesktopClients", "browser"},
			"applications":   map[string]any{"includeApplications": []string{"00000002-0000-0ff1-ce00-000000000000"}},
			"users":          map[string]any{"includeGroups": []string{group}},
			"locations":      map[string]any{"includeLocations": []string{"All"}, "excludeLocations": []string{"AllTrusted"}},
		},
		"grantControls": map[string]any{"operator": "OR", "builtInControls": []string{"mfa"}},
	}
}

// createPolicy posts body and returns the new policy's id.
func (f *fixture) createPolicy(tb testing.TB, body any) string {
	tb.Helper()
	r := f.call(tb, http.MethodPost, policiesPath, body)
	wantStatus(tb, r, http.StatusCreated)
	return r.str("id")
}

// jsonOf re-encodes part of an answer, to compare it as text.
func jsonOf(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestCreatePolicyAnswersWhatTheServiceStored(t *testing.T) {
	f := newClockFixture(t, caPerms...)
	r := f.call(t, http.MethodPost, policiesPath, mfaBody("ba8e7ded-8b0f-4836-ba06-8ff1ecc5c8ba"))
	wantStatus(t, r, http.StatusCreated)
	if !guidRE.MatchString(r.str("id")) {
		t.Errorf("id = %q, want a GUID", r.str("id"))
	}
	want := map[string]any{
		"@odata.context":   f.srv.URL + "/v1.0/$metadata#identity/conditionalAccess/policies/$entity",
		"displayName":      "Access to EXO requires MFA",
		"state":            "enabled",
		"createdDateTime":  "2026-03-02T09:00:00Z",
		"modifiedDateTime": nil,
		"templateId":       nil,
		"sessionControls":  nil,
	}
	for k, v := range want {
		if got, ok := r.body[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	// The collections the service fills in come back empty, not absent.
	wantJSON := map[string]string{
		"conditions.applications":     `{"excludeApplications":[],"includeApplications":["00000002-0000-0ff1-ce00-000000000000"],"includeAuthenticationContextClassReferences":[],"includeUserActions":[]}`,
		"conditions.users":            `{"excludeGroups":[],"excludeGuestsOrExternalUsers":null,"excludeRoles":[],"excludeUsers":[],"includeGroups":["ba8e7ded-8b0f-4836-ba06-8ff1ecc5c8ba"],"includeGuestsOrExternalUsers":null,"includeRoles":[],"includeUsers":[]}`,
		"conditions.locations":        `{"excludeLocations":["AllTrusted"],"includeLocations":["All"]}`,
		"conditions.platforms":        `null`,
		"conditions.signInRiskLevels": `[]`,
		"grantControls":               `{"authenticationStrength":null,"builtInControls":["mfa"],"customAuthenticationFactors":[],"operator":"OR","termsOfUse":[]}`,
	}
	for path, w := range wantJSON {
		if got := jsonOf(t, r.get(path)); got != w {
			t.Errorf("%s = %s, want %s", path, got, w)
		}
	}
	stored, ok := f.ten.Policy(r.str("id"))
	if !ok || stored.ModifiedDateTime != nil || !stored.CreatedDateTime.Equal(f.clock.Now()) {
		t.Errorf("stored policy = %+v, %v", stored, ok)
	}
}

func TestGetListAndDeletePolicy(t *testing.T) {
	f := newFixture(t, caPerms...)
	a := f.createPolicy(t, mfaBody(newGUID()))
	b := f.createPolicy(t, mfaBody(newGUID()))

	list := f.call(t, http.MethodGet, policiesPath, nil)
	wantStatus(t, list, http.StatusOK)
	if got := list.str("@odata.context"); got != f.srv.URL+"/v1.0/$metadata#identity/conditionalAccess/policies" {
		t.Errorf("@odata.context = %q", got)
	}
	if got := ids(list); !slices.Equal(got, []string{a, b}) {
		t.Errorf("listed ids = %v, want %v (creation order)", got, []string{a, b})
	}
	got := f.call(t, http.MethodGet, policiesPath+"/"+a, nil)
	wantStatus(t, got, http.StatusOK)
	item := list.list("value")[0].(map[string]any)
	delete(got.body, "@odata.context")
	if jsonOf(t, got.body) != jsonOf(t, item) {
		t.Errorf("GET by id = %s, want the listed item %s", got.raw, jsonOf(t, item))
	}

	wantStatus(t, f.call(t, http.MethodDelete, policiesPath+"/"+a, nil), http.StatusNoContent)
	wantError(t, f.call(t, http.MethodGet, policiesPath+"/"+a, nil), http.StatusNotFound, "Request_ResourceNotFound")
	wantError(t, f.call(t, http.MethodDelete, policiesPath+"/"+a, nil), http.StatusNotFound, "Request_ResourceNotFound")
	wantError(t, f.call(t, http.MethodPatch, policiesPath+"/"+a, map[string]any{"state": "disabled"}), http.StatusNotFound, "Request_ResourceNotFound")
	if got := ids(f.call(t, http.MethodGet, policiesPath, nil)); !slices.Equal(got, []string{b}) {
		t.Errorf("after delete, ids = %v", got)
	}
	wantError(t, f.call(t, http.MethodPut, policiesPath+"/"+b, mfaBody(newGUID())), http.StatusMethodNotAllowed, "Request_BadRequest")
	wantError(t, f.call(t, http.MethodGet, policiesPath+"?$top=5", nil), http.StatusBadRequest, "Request_UnsupportedQuery")
	wantError(t, f.call(t, http.MethodGet, "/v1.0/identity/conditionalAccess/policys", nil), http.StatusBadRequest, "BadRequest")
}

func TestPatchPolicyMergesComplexValuesAndReplacesCollections(t *testing.T) {
	f := newClockFixture(t, caPerms...)
	g1, g2 := newGUID(), newGUID()
	id := f.createPolicy(t, mfaBody(g1))
	before, _ := f.ten.Policy(id)
	f.clock.Advance(time.Hour)

	// Only users.includeGroups is named: the other conditions stay.
	r := f.call(t, http.MethodPatch, policiesPath+"/"+id, map[string]any{
		"conditions": map[string]any{"users": map[string]any{"includeGroups": []string{g2}, "excludeUsers": []string{"break-glass"}}},
	})
	wantStatus(t, r, http.StatusNoContent)
	if len(r.raw) != 0 {
		t.Errorf("204 with a body: %s", r.raw)
	}
	p, _ := f.ten.Policy(id)
	if got := p.Conditions.Users.IncludeGroups; !slices.Equal(got, []string{g2}) {
		t.Errorf("includeGroups = %v, want [%s] (replaced, not appended)", got, g2)
	}
	if got := p.Conditions.Users.ExcludeUsers; !slices.Equal(got, []string{"break-glass"}) {
		t.Errorf("excludeUsers = %v", got)
	}
	if !reflect.DeepEqual(p.Conditions.Applications, before.Conditions.Applications) || !slices.Equal(p.Conditions.ClientAppTypes, before.Conditions.ClientAppTypes) ||
		!reflect.DeepEqual(p.Conditions.Locations, before.Conditions.Locations) || !reflect.DeepEqual(p.GrantControls, before.GrantControls) || p.State != "enabled" {
		t.Errorf("properties the PATCH did not name changed: %+v", p)
	}
	if p.ModifiedDateTime == nil || !p.ModifiedDateTime.Equal(f.clock.Now()) || !p.CreatedDateTime.Equal(before.CreatedDateTime) {
		t.Errorf("modified = %v, created = %v; want now and unchanged", p.ModifiedDateTime, p.CreatedDateTime)
	}
	got := f.call(t, http.MethodGet, policiesPath+"/"+id, nil)
	if got.str("modifiedDateTime") != "2026-03-02T10:00:00Z" {
		t.Errorf("modifiedDateTime on the wire = %v", got.get("modifiedDateTime"))
	}

	// A session control added, then the grant controls removed with null.
	wantStatus(t, f.call(t, http.MethodPatch, policiesPath+"/"+id, map[string]any{
		"sessionControls": map[string]any{"signInFrequency": map[string]any{"isEnabled": true, "value": 4, "type": "hours"}},
	}), http.StatusNoContent)
	wantStatus(t, f.call(t, http.MethodPatch, policiesPath+"/"+id, `{"grantControls":null,"state":"enabledForReportingButNotEnforced"}`), http.StatusNoContent)
	got = f.call(t, http.MethodGet, policiesPath+"/"+id, nil)
	if w := `{"authenticationType":"primaryAndSecondaryAuthentication","frequencyInterval":"timeBased","isEnabled":true,"type":"hours","value":4}`; jsonOf(t, got.get("sessionControls.signInFrequency")) != w {
		t.Errorf("signInFrequency = %s, want %s (defaults filled in)", jsonOf(t, got.get("sessionControls.signInFrequency")), w)
	}
	if got.get("grantControls") != nil || got.str("state") != PolicyReportOnly {
		t.Errorf("grantControls = %v, state = %v", got.get("grantControls"), got.get("state"))
	}

	// A PATCH that would leave the policy without any control is refused
	// whole: nothing of it is applied.
	r = f.call(t, http.MethodPatch, policiesPath+"/"+id, `{"sessionControls":null,"displayName":"renamed"}`)
	wantError(t, r, http.StatusBadRequest, "BadRequest")
	if p, _ := f.ten.Policy(id); p.DisplayName != "Access to EXO requires MFA" || p.SessionControls == nil {
		t.Errorf("a refused PATCH changed the policy: %+v", p)
	}
}

// A client may send back what it read: read-only properties, annotations
// and the nulls of the answer are accepted, and change nothing.
func TestPatchPolicyAcceptsTheBodyItRead(t *testing.T) {
	f := newFixture(t, caPerms...)
	id := f.createPolicy(t, mfaBody(newGUID()))
	before, _ := f.ten.Policy(id)
	got := f.call(t, http.MethodGet, policiesPath+"/"+id, nil)
	wantStatus(t, f.call(t, http.MethodPatch, policiesPath+"/"+id, got.raw), http.StatusNoContent)
	after, _ := f.ten.Policy(id)
	after.ModifiedDateTime = nil
	if !reflect.DeepEqual(after, before) {
		t.Errorf("round trip changed the policy:\n got %+v\nwant %+v", after, before)
	}
}

func TestPolicyBodiesGraphRefuses(t *testing.T) {
	f := newFixture(t, caPerms...)
	with := func(edit func(b map[string]any)) map[string]any {
		b := mfaBody(newGUID())
		edit(b)
		return b
	}
	cond := func(b map[string]any) map[string]any { return b["conditions"].(map[string]any) }
	tests := []struct {
		name, code, msg string
		body            any
	}{
		{"no displayName", "BadRequest", "'displayName' is required", with(func(b map[string]any) { delete(b, "displayName") })},
		{"no state", "BadRequest", "'state' is required", with(func(b map[string]any) { delete(b, "state") })},
		{"unknown state", "BadRequest", "Invalid value 'on' for property 'state'", with(func(b map[string]any) { b["state"] = "on" })},
		{"state in another case", "BadRequest", "Invalid value 'Enabled'", with(func(b map[string]any) { b["state"] = "Enabled" })},
		{"no conditions", "BadRequest", "'conditions' is required", with(func(b map[string]any) { delete(b, "conditions") })},
		{"no applications", "BadRequest", "'conditions.applications' is required", with(func(b map[string]any) { delete(cond(b), "applications") })},
		{"no application rule", "BadRequest", "application rule", with(func(b map[string]any) { cond(b)["applications"] = map[string]any{"excludeApplications": []string{"x"}} })},
		{"no users", "BadRequest", "'conditions.users' is required", with(func(b map[string]any) { delete(cond(b), "users") })},
		{"no user rule", "BadRequest", "user rule", with(func(b map[string]any) { cond(b)["users"] = map[string]any{"excludeGroups": []string{"x"}} })},
		{"no clientAppTypes", "BadRequest", "'conditions.clientAppTypes' is required", with(func(b map[string]any) { delete(cond(b), "clientAppTypes") })},
		{"unknown client app type", "BadRequest", "Invalid value 'desktop'", with(func(b map[string]any) { cond(b)["clientAppTypes"] = []string{"desktop"} })},
		{"no control", "BadRequest", "at least one grant control or session control", with(func(b map[string]any) { delete(b, "grantControls") })},
		{"empty session controls", "BadRequest", "at least one grant control or session control", with(func(b map[string]any) { delete(b, "grantControls"); b["sessionControls"] = map[string]any{} })},
		{"no operator", "BadRequest", "'grantControls.operator' is required", with(func(b map[string]any) { b["grantControls"] = map[string]any{"builtInControls": []string{"mfa"}} })},
		{"operator XOR", "BadRequest", "Invalid value 'XOR'", with(func(b map[string]any) {
			b["grantControls"] = map[string]any{"operator": "XOR", "builtInControls": []string{"mfa"}}
		})},
		{"unknown built-in control", "BadRequest", "Invalid value 'fido2'", with(func(b map[string]any) {
			b["grantControls"] = map[string]any{"operator": "OR", "builtInControls": []string{"fido2"}}
		})},
		{"grant controls with no control", "BadRequest", "requires no control", with(func(b map[string]any) { b["grantControls"] = map[string]any{"operator": "OR"} })},
		{"passwordChange without mfa", "BadRequest", "'passwordChange' must be accompanied by 'mfa'", with(func(b map[string]any) {
			b["grantControls"] = map[string]any{"operator": "AND", "builtInControls": []string{"passwordChange"}}
		})},
		{"unknown top-level property", "BadRequest", "'owner' does not exist on type 'microsoft.graph.conditionalAccessPolicy'", with(func(b map[string]any) { b["owner"] = "me" })},
		{"unknown nested property", "BadRequest", "'includeGroupz' does not exist on type 'microsoft.graph.conditionalAccessUsers'", with(func(b map[string]any) {
			cond(b)["users"].(map[string]any)["includeGroupz"] = []string{"x"}
		})},
		{"property name in another case", "BadRequest", "'DisplayName' does not exist", with(func(b map[string]any) { b["DisplayName"] = "x" })},
		{"wrong type", "BadRequest", "'displayName': a string was expected", with(func(b map[string]any) { b["displayName"] = 7 })},
		{"string where a collection goes", "BadRequest", "'conditions.users.includeGroups': a collection of strings was expected", with(func(b map[string]any) {
			cond(b)["users"] = map[string]any{"includeGroups": "g"}
		})},
		{"value not a 32-bit integer", "BadRequest", "'sessionControls.signInFrequency.value': a 32-bit integer was expected", with(func(b map[string]any) {
			b["sessionControls"] = map[string]any{"signInFrequency": map[string]any{"isEnabled": true, "value": 1.5, "type": "days"}}
		})},
		{"sign-in frequency without a value", "BadRequest", "needs a 'value'", with(func(b map[string]any) {
			b["sessionControls"] = map[string]any{"signInFrequency": map[string]any{"isEnabled": true, "type": "days"}}
		})},
		{"sign-in frequency in weeks", "BadRequest", "Invalid value 'weeks'", with(func(b map[string]any) {
			b["sessionControls"] = map[string]any{"signInFrequency": map[string]any{"isEnabled": true, "value": 1, "type": "weeks"}}
		})},
		{"persistent browser without mode", "BadRequest", "persistentBrowser.mode' is required", with(func(b map[string]any) {
			b["sessionControls"] = map[string]any{"persistentBrowser": map[string]any{"isEnabled": true}}
		})},
		{"@odata.type of another type", "BadRequest", "could not be resolved", with(func(b map[string]any) { cond(b)["@odata.type"] = "#microsoft.graph.user" })},
		{"guests with an unknown type", "BadRequest", "Invalid value 'contractor'", with(func(b map[string]any) {
			cond(b)["users"] = map[string]any{"includeGuestsOrExternalUsers": map[string]any{"guestOrExternalUserTypes": "internalGuest,contractor"}}
		})},
		{"property the sandbox does not model", "Request_BadRequest", "'sessionControls.cloudAppSecurity' is not supported by the sandbox tenant", with(func(b map[string]any) {
			b["sessionControls"] = map[string]any{"cloudAppSecurity": map[string]any{"isEnabled": true}}
		})},
		{"not JSON", "BadRequest", "Unable to read JSON request payload", "{"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.call(t, http.MethodPost, policiesPath, tt.body)
			wantError(t, r, http.StatusBadRequest, tt.code)
			if msg := r.str("error.message"); !strings.Contains(msg, tt.msg) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.msg)
			}
		})
	}
	if n := len(f.ten.Policies()); n != 0 {
		t.Errorf("%d policies stored from refused bodies", n)
	}
}

// What the SDK sends: @odata.type on the objects it serialises, flags as a
// comma-separated string, derived types for external tenants.
func TestCreatePolicyAcceptsTheSDKsAnnotations(t *testing.T) {
	f := newFixture(t, caPerms...)
	body := `{"displayName":"Guests: MFA every day","state":"enabledForReportingButNotEnforced",
	 "conditions":{"@odata.type":"#microsoft.graph.conditionalAccessConditionSet","clientAppTypes":["all"],
	  "applications":{"@odata.type":"#microsoft.graph.conditionalAccessApplications","includeApplications":["All"]},
	  "users":{"includeGuestsOrExternalUsers":{"guestOrExternalUserTypes":"internalGuest,b2bCollaborationGuest",
	   "externalTenants":{"@odata.type":"#microsoft.graph.conditionalAccessEnumeratedExternalTenants","membershipKind":"enumerated","members":["t1"]}},
	   "excludeUsers":["break-glass"]}},
	 "grantControls":{"operator":"AND","authenticationStrength":{"id":"00000000-0000-0000-0000-000000000002"}},
	 "sessionControls":{"signInFrequency":{"@odata.type":"#microsoft.graph.signInFrequencySessionControl","isEnabled":true,"value":1,"type":"days","frequencyInterval":"timeBased","authenticationType":"primaryAndSecondaryAuthentication"},
	  "persistentBrowser":{"@odata.type":"#microsoft.graph.persistentBrowserSessionControl","isEnabled":true,"mode":"never"}}}`
	r := f.call(t, http.MethodPost, policiesPath, body)
	wantStatus(t, r, http.StatusCreated)
	if w := `{"@odata.type":"#microsoft.graph.conditionalAccessEnumeratedExternalTenants","members":["t1"],"membershipKind":"enumerated"}`; jsonOf(t, r.get("conditions.users.includeGuestsOrExternalUsers.externalTenants")) != w {
		t.Errorf("externalTenants = %s, want %s", jsonOf(t, r.get("conditions.users.includeGuestsOrExternalUsers.externalTenants")), w)
	}
	p, _ := f.ten.Policy(r.str("id"))
	if p.GrantControls.AuthenticationStrength.ID != "00000000-0000-0000-0000-000000000002" || p.SessionControls.PersistentBrowser.Mode != "never" {
		t.Errorf("stored = %+v %+v", p.GrantControls, p.SessionControls)
	}
	// Switching the external tenants to all of them drops the members.
	wantStatus(t, f.call(t, http.MethodPatch, policiesPath+"/"+p.ID, `{"conditions":{"users":{"includeGuestsOrExternalUsers":{"externalTenants":{"@odata.type":"#microsoft.graph.conditionalAccessAllExternalTenants","membershipKind":"all"}}}}}`), http.StatusNoContent)
	p, _ = f.ten.Policy(p.ID)
	if e := p.Conditions.Users.IncludeGuestsOrExternalUsers; e.ExternalTenants.MembershipKind != "all" || e.ExternalTenants.Members != nil || e.GuestOrExternalUserTypes != "internalGuest,b2bCollaborationGuest" {
		t.Errorf("guests after PATCH = %+v %+v", e, e.ExternalTenants)
	}
}

func TestPolicyPermissions(t *testing.T) {
	f := newFixture(t)
	id := f.createPolicyAs(t, caPerms)
	tests := []struct {
		name                                   string
		perms                                  []string
		list, get, create, patch, deleteStatus int
	}{
		{"Policy.Read.All reads only", []string{"Policy.Read.All"}, 200, 200, 403, 403, 403},
		{"ReadWrite.ConditionalAccess alone neither reads nor writes", []string{"Policy.ReadWrite.ConditionalAccess"}, 403, 403, 403, 403, 403},
		{"Application.Read.All with ReadWrite creates and updates, not deletes", []string{"Application.Read.All", "Policy.ReadWrite.ConditionalAccess"}, 403, 403, 201, 204, 403},
		{"Policy.Read.All with ReadWrite does all", caPerms, 200, 200, 201, 204, 204},
		{"directory permissions are not enough", []string{"Directory.ReadWrite.All"}, 403, 403, 403, 403, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := f.tokenFor(t, tt.perms...)
			check := func(what string, r resp, want int) {
				t.Helper()
				if want == http.StatusForbidden {
					wantError(t, r, want, "Authorization_RequestDenied")
				} else if r.status != want {
					t.Errorf("%s: status %d, want %d: %s", what, r.status, want, r.raw)
				}
			}
			check("list", f.callWith(t, tok, http.MethodGet, policiesPath, nil), tt.list)
			check("get", f.callWith(t, tok, http.MethodGet, policiesPath+"/"+id, nil), tt.get)
			check("create", f.callWith(t, tok, http.MethodPost, policiesPath, mfaBody(newGUID())), tt.create)
			check("patch", f.callWith(t, tok, http.MethodPatch, policiesPath+"/"+id, map[string]any{"state": "disabled"}), tt.patch)
			victim := f.createPolicyAs(t, caPerms)
			check("delete", f.callWith(t, tok, http.MethodDelete, policiesPath+"/"+victim, nil), tt.deleteStatus)
		})
	}
}

// createPolicyAs creates a policy with a token holding perms.
func (f *fixture) createPolicyAs(tb testing.TB, perms []string) string {
	tb.Helper()
	r := f.callWith(tb, f.tokenFor(tb, perms...), http.MethodPost, policiesPath, mfaBody(newGUID()))
	wantStatus(tb, r, http.StatusCreated)
	return r.str("id")
}

func TestPoliciesInBatch(t *testing.T) {
	f := newFixture(t, caPerms...)
	body, _ := json.Marshal(mfaBody(newGUID()))
	r := f.call(t, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "POST", "url": "/identity/conditionalAccess/policies", "headers": map[string]string{"Content-Type": "application/json"}, "body": json.RawMessage(body)},
		{"id": "2", "method": "GET", "url": "/identity/conditionalAccess/policies", "dependsOn": []string{"1"}},
	}})
	wantStatus(t, r, http.StatusOK)
	status := map[string]float64{}
	for _, item := range r.list("responses") {
		m := item.(map[string]any)
		status[m["id"].(string)] = m["status"].(float64)
	}
	if status["1"] != 201 || status["2"] != 200 {
		t.Errorf("item statuses = %v, want 1: 201, 2: 200", status)
	}
	if n := len(f.ten.Policies()); n != 1 {
		t.Errorf("%d policies, want the one created in the batch", n)
	}
}

// The client must cope with a 429 that carries no Retry-After, as this
// API's are documented to: a fault without RetryAfter gives one.
func TestPolicyFault429HasNoRetryAfter(t *testing.T) {
	f := newFixture(t, caPerms...)
	f.ten.Inject(Fault{Method: "POST", Path: "/identity/conditionalAccess/policies", Status: 429, Times: 1})
	r := f.call(t, http.MethodPost, policiesPath, mfaBody(newGUID()))
	wantError(t, r, http.StatusTooManyRequests, "TooManyRequests")
	if _, ok := r.header["Retry-After"]; ok {
		t.Errorf("Retry-After = %q, want none", r.header.Get("Retry-After"))
	}
	wantStatus(t, f.call(t, http.MethodPost, policiesPath, mfaBody(newGUID())), http.StatusCreated)
	if n := len(f.ten.Policies()); n != 1 {
		t.Errorf("%d policies, want 1: the throttled create stored nothing", n)
	}
}
