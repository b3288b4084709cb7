package policy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/config"
)

var (
	groups = map[string]string{"contractor-access": "5A11D0C0-5717-4E5D-8000-0000000000C1", "github-org": "5a11d0c0-5717-4e5d-8000-0000000000c2"}
	cfg    = config.Policies{
		BreakGlass:      []config.Principal{{Kind: "user", ID: "11111111-1111-1111-1111-111111111111"}, {Kind: "group", ID: "22222222-2222-2222-2222-222222222222"}},
		AllowedApps:     []string{"00000002-0000-0ff1-ce00-000000000000"},
		SignInFrequency: config.Frequency{Value: 12, Type: "hours"},
	}
)

func byKey(t *testing.T, ds []Desired, key string) Desired {
	t.Helper()
	i := slices.IndexFunc(ds, func(d Desired) bool { return d.Key == key })
	if i < 0 {
		t.Fatalf("no policy %s in %v", key, ds)
	}
	return ds[i]
}

// Every baseline policy targets every allow-listed group and excludes the
// break-glass accounts; the configuration fills in the rest.
func TestBaselineIsFilledFromTheConfiguration(t *testing.T) {
	ds, err := Load(cfg, groups)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) < 3 {
		t.Fatalf("%d baseline policies, want at least require MFA, allowed apps only, sign-in frequency", len(ds))
	}
	for _, d := range ds {
		l := leaves(d.Body)
		if !strings.HasPrefix(d.Name, Prefix) {
			t.Errorf("%s: name %q lacks the %q prefix", d.Key, d.Name, Prefix)
		}
		if want := `["5a11d0c0-5717-4e5d-8000-0000000000c1","5a11d0c0-5717-4e5d-8000-0000000000c2"]`; l["conditions.users.includeGroups"] != want {
			t.Errorf("%s: includeGroups %s, want %s", d.Key, l["conditions.users.includeGroups"], want)
		}
		if l["conditions.users.excludeUsers"] != `["11111111-1111-1111-1111-111111111111"]` || l["conditions.users.excludeGroups"] != `["22222222-2222-2222-2222-222222222222"]` {
			t.Errorf("%s: exclusions %s / %s, want the break-glass user and group", d.Key, l["conditions.users.excludeUsers"], l["conditions.users.excludeGroups"])
		}
		if _, ok := d.Body["state"]; ok {
			t.Errorf("%s: the file's state is kept; stint decides it", d.Key)
		}
	}
	mfa := leaves(byKey(t, ds, "require-mfa").Body)
	if mfa["grantControls.builtInControls"] != `["mfa"]` {
		t.Errorf("require-mfa grant = %s", mfa["grantControls.builtInControls"])
	}
	apps := leaves(byKey(t, ds, "allowed-apps-only").Body)
	if apps["conditions.applications.excludeApplications"] != `["00000002-0000-0ff1-ce00-000000000000"]` || apps["grantControls.builtInControls"] != `["block"]` {
		t.Errorf("allowed-apps-only = %v", apps)
	}
	if legacy := leaves(byKey(t, ds, "block-legacy-authentication").Body); legacy["conditions.applications.excludeApplications"] != "" {
		t.Errorf("the legacy-authentication block excludes apps: %s", legacy["conditions.applications.excludeApplications"])
	}
	freq := leaves(byKey(t, ds, "sign-in-frequency").Body)
	if freq["sessionControls.signInFrequency.value"] != "12" || freq["sessionControls.signInFrequency.type"] != `"hours"` || freq["sessionControls.persistentBrowser.mode"] != `"never"` {
		t.Errorf("sign-in-frequency = %v", freq)
	}
}

func TestAuthenticationStrengthReplacesMFA(t *testing.T) {
	c := cfg
	c.AuthStrength = "00000000-0000-0000-0000-000000000004"
	ds, err := Load(c, groups)
	if err != nil {
		t.Fatal(err)
	}
	l := leaves(byKey(t, ds, "require-mfa").Body)
	if l["grantControls.authenticationStrength.id"] != `"00000000-0000-0000-0000-000000000004"` || l["grantControls.builtInControls"] != "" {
		t.Errorf("require-mfa with a strength = %v", l)
	}
}

func TestLoadRefusesWhatItCannotGovern(t *testing.T) {
	cases := []struct {
		name  string
		cfg   func(*config.Policies)
		files map[string]string
		want  []string
	}{
		{name: "no break glass", cfg: func(c *config.Policies) { c.BreakGlass = nil }, want: []string{"STINT_BREAK_GLASS is not set"}},
		{name: "no allowed apps", cfg: func(c *config.Policies) { c.AllowedApps = nil }, want: []string{"allowed-apps-only.json", "STINT_ALLOWED_APPS is not set"}},
		{name: "an admin's file targets users and a foreign group", files: map[string]string{
			"mine.json": `{"displayName":"vendors MFA","conditions":{"applications":{"includeApplications":["All"]},"users":{"includeUsers":["All"],"includeGroups":["33333333-3333-3333-3333-333333333333"]}},"grantControls":{"operator":"OR","builtInControls":["mfa"]}}`,
		}, want: []string{"mine.json", "conditions.users.includeUsers", "33333333-3333-3333-3333-333333333333 is not an allow-listed group"}},
		{name: "a file excludes a managed group", files: map[string]string{
			"x.json": `{"displayName":"x","conditions":{"applications":{"includeApplications":["All"]},"users":{"excludeGroups":["5a11d0c0-5717-4e5d-8000-0000000000c2"]}},"grantControls":{"operator":"OR","builtInControls":["mfa"]}}`,
		}, want: []string{"x.json", "excludeGroups", "would not govern it"}},
		{name: "a file that does nothing", files: map[string]string{
			"y.json": `{"displayName":"y","conditions":{"applications":{"includeApplications":["All"]},"users":{}}}`,
		}, want: []string{"y.json", "neither grantControls nor sessionControls"}},
		{name: "not JSON", files: map[string]string{"z.json": `{"displayName":`}, want: []string{"z.json", "not a JSON object"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			if tc.files != nil {
				c.Dir = t.TempDir()
				for name, body := range tc.files {
					os.WriteFile(filepath.Join(c.Dir, name), []byte(body), 0o600)
				}
			}
			_, err := Load(c, groups)
			if err == nil {
				t.Fatal("loaded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// An admin's own file is taken as the baseline is: prefixed, targeted,
// its own extra exclusions kept, server fields dropped.
func TestAdminsOwnFiles(t *testing.T) {
	c := cfg
	c.Dir = t.TempDir()
	os.WriteFile(filepath.Join(c.Dir, "vendors.json"), []byte(`{
		"id": "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", "createdDateTime": "2026-01-01T00:00:00Z", "templateId": null,
		"displayName": "vendors need a compliant device", "state": "enabled",
		"conditions": {"applications": {"includeApplications": ["All"]}, "users": {"excludeUsers": ["44444444-4444-4444-4444-444444444444"]}, "clientAppTypes": ["all"]},
		"grantControls": {"operator": "OR", "builtInControls": ["compliantDevice"]}}`), 0o600)
	ds, err := Load(c, groups)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Name != "stint: vendors need a compliant device" || ds[0].Key != "vendors" {
		t.Fatalf("loaded %+v", ds)
	}
	l := leaves(ds[0].Body)
	if l["conditions.users.excludeUsers"] != `["11111111-1111-1111-1111-111111111111","44444444-4444-4444-4444-444444444444"]` {
		t.Errorf("excludeUsers = %s, want the file's and the break-glass one", l["conditions.users.excludeUsers"])
	}
	for _, f := range []string{"id", "createdDateTime", "state"} {
		if _, ok := ds[0].Body[f]; ok {
			t.Errorf("%s kept from the file", f)
		}
	}
}

// Differences ignore what Graph adds (nulls, empty lists, its own fields)
// and list order, and see what a hand edit changes.
func TestDifferences(t *testing.T) {
	want := map[string]any{"displayName": "stint: x", "state": "enabled",
		"conditions":    map[string]any{"users": map[string]any{"includeGroups": []any{"b", "a"}, "excludeUsers": []any{"BG"}}},
		"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}}}
	same := map[string]any{"id": "1", "createdDateTime": "t", "templateId": nil, "displayName": "stint: x", "state": "enabled",
		"conditions":      map[string]any{"users": map[string]any{"includeGroups": []any{"a", "b"}, "excludeUsers": []any{"BG"}, "includeRoles": []any{}}, "platforms": nil},
		"grantControls":   map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}, "termsOfUse": []any{}, "authenticationStrength@odata.context": "x"},
		"sessionControls": nil}
	if d := differences(want, same); len(d) != 0 {
		t.Errorf("differences with Graph's own additions: %v, want none", d)
	}
	edited := map[string]any{"displayName": "stint: x", "state": "enabledForReportingButNotEnforced",
		"conditions":    map[string]any{"users": map[string]any{"includeGroups": []any{"a"}, "excludeUsers": []any{"BG"}, "excludeGroups": []any{"c"}}},
		"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{}}}
	got := differences(want, edited)
	wantFields := []string{"conditions.users.excludeGroups", "conditions.users.includeGroups", "grantControls.builtInControls", "state"}
	if !slices.Equal(got, wantFields) {
		t.Errorf("differences = %v, want %v", got, wantFields)
	}
}
