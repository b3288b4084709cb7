package sandbox

import (
	"bytes"
	"errors"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// adminPolicy is what an administrator might have made in the portal:
// report-only MFA for contractors, with a break-glass account excluded.
func adminPolicy(groups ...string) Policy {
	return Policy{
		DisplayName: "Contractors: MFA",
		State:       PolicyReportOnly,
		Conditions: &PolicyConditions{
			ClientAppTypes: []string{"all"},
			Applications:   &PolicyApplications{IncludeApplications: []string{"All"}},
			Users:          &PolicyUsers{IncludeGroups: groups, ExcludeUsers: []string{"break-glass"}},
		},
		GrantControls: &GrantControls{Operator: "OR", BuiltInControls: []string{"mfa"}},
	}
}

func TestAdminPoliciesAreServedOverGraph(t *testing.T) {
	f := newClockFixture(t, caPerms...)
	p, err := f.ten.AddPolicy(adminPolicy("g1"))
	if err != nil {
		t.Fatal(err)
	}
	if !guidRE.MatchString(p.ID) || !p.CreatedDateTime.Equal(f.clock.Now()) || p.ModifiedDateTime != nil {
		t.Errorf("added = %+v, want a GUID, created now, never modified", p)
	}
	if got := p.Conditions.Users.IncludeUsers; got == nil || len(got) != 0 {
		t.Errorf("includeUsers = %#v, want filled in as empty", got)
	}
	r := f.call(t, http.MethodGet, policiesPath+"/"+p.ID, nil)
	wantStatus(t, r, http.StatusOK)
	if r.str("state") != PolicyReportOnly || jsonOf(t, r.get("conditions.users.includeGroups")) != `["g1"]` {
		t.Errorf("served = %s", r.raw)
	}
	if got := f.ten.Policies(); len(got) != 1 || !reflect.DeepEqual(got[0], p) {
		t.Errorf("Policies() = %+v, want [%+v]", got, p)
	}
	// What Policies returns is a copy.
	got := f.ten.Policies()
	got[0].Conditions.Users.IncludeGroups[0] = "changed"
	if q, _ := f.ten.Policy(p.ID); q.Conditions.Users.IncludeGroups[0] != "g1" {
		t.Error("editing a returned policy changed the stored one")
	}
}

func TestAdminEditsPolicies(t *testing.T) {
	f := newClockFixture(t, caPerms...)
	p, err := f.ten.AddPolicy(adminPolicy("g1", "g2"))
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)

	if err := f.ten.SetPolicyState(p.ID, PolicyEnabled); err != nil {
		t.Fatal(err)
	}
	if err := f.ten.RemoveIncludedGroup(p.ID, "G1"); err != nil {
		t.Fatal(err)
	}
	q, _ := f.ten.Policy(p.ID)
	if q.State != PolicyEnabled || !slices.Equal(q.Conditions.Users.IncludeGroups, []string{"g2"}) {
		t.Errorf("after edits: state %q, includeGroups %v", q.State, q.Conditions.Users.IncludeGroups)
	}
	if q.ModifiedDateTime == nil || !q.ModifiedDateTime.Equal(f.clock.Now()) {
		t.Errorf("modified = %v, want now", q.ModifiedDateTime)
	}
	r := f.call(t, http.MethodGet, policiesPath+"/"+p.ID, nil)
	if r.str("modifiedDateTime") != "2026-03-02T09:01:00Z" || r.str("state") != "enabled" {
		t.Errorf("served after edits: %s", r.raw)
	}

	tests := []struct {
		name string
		err  error
		do   func() error
	}{
		{"a group not included", ErrNotFound, func() error { return f.ten.RemoveIncludedGroup(p.ID, "g9") }},
		{"the last group: no one included", ErrInvalidPolicy, func() error { return f.ten.RemoveIncludedGroup(p.ID, "g2") }},
		{"an unknown state", ErrInvalidPolicy, func() error { return f.ten.SetPolicyState(p.ID, "on") }},
		{"an unknown policy", ErrNotFound, func() error { return f.ten.SetPolicyState(newGUID(), PolicyDisabled) }},
		{"an unknown policy to delete", ErrNotFound, func() error { return f.ten.DeletePolicy(newGUID()) }},
		{"an edit to the id", nil, func() error {
			_, err := f.ten.EditPolicy(p.ID, func(p *Policy) { p.ID = "other" })
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); !errors.Is(err, tt.err) {
				t.Errorf("err = %v, want %v", err, tt.err)
			}
			if q, ok := f.ten.Policy(p.ID); !ok || !slices.Equal(q.Conditions.Users.IncludeGroups, []string{"g2"}) || q.State != PolicyEnabled {
				t.Errorf("policy changed: %+v", q)
			}
		})
	}
	if _, ok := f.ten.Policy("other"); ok {
		t.Error("EditPolicy changed a policy's id")
	}
	if _, err := f.ten.AddPolicy(Policy{DisplayName: "no conditions", State: PolicyEnabled}); !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("AddPolicy without conditions: err = %v, want ErrInvalidPolicy", err)
	}

	if err := f.ten.DeletePolicy(p.ID); err != nil {
		t.Fatal(err)
	}
	wantError(t, f.call(t, http.MethodGet, policiesPath+"/"+p.ID, nil), http.StatusNotFound, "Request_ResourceNotFound")
}

func TestPoliciesSurviveSaveAndLoad(t *testing.T) {
	f := newClockFixture(t, caPerms...)
	admin, err := f.ten.AddPolicy(adminPolicy("g1"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tenant.json")
	f.ten.PersistTo(path)
	body := mfaBody("g2")
	body["sessionControls"] = map[string]any{"signInFrequency": map[string]any{"isEnabled": true, "value": 12, "type": "hours"}}
	id := f.createPolicy(t, body)
	f.clock.Advance(time.Second)
	wantStatus(t, f.call(t, http.MethodPatch, policiesPath+"/"+id, map[string]any{"state": "disabled"}), http.StatusNoContent)

	// The PATCH was saved before it was answered.
	again := New(Options{})
	if err := again.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if got, want := again.Policies(), f.ten.Policies(); !reflect.DeepEqual(got, want) {
		t.Errorf("loaded policies:\n %+v\nwant\n %+v", got, want)
	}
	if got := again.Policies(); len(got) != 2 || got[0].ID != admin.ID || got[1].State != PolicyDisabled || got[1].ModifiedDateTime == nil {
		t.Errorf("loaded = %+v", got)
	}

	// A snapshot saved before policies existed loads with none.
	var old bytes.Buffer
	if err := New(Options{}).Save(&old); err != nil {
		t.Fatal(err)
	}
	stripped := bytes.Replace(old.Bytes(), []byte(`"policies": []`), []byte(`"x": 0`), 1)
	if bytes.Equal(stripped, old.Bytes()) {
		t.Fatalf("no policies key in %s", old.Bytes())
	}
	if err := again.Load(bytes.NewReader(stripped)); err != nil || len(again.Policies()) != 0 {
		t.Errorf("old snapshot: err %v, %d policies", err, len(again.Policies()))
	}
}
