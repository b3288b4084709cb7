// Package policy manages the Conditional Access policies that govern the
// contractor groups, as code: the desired policies (a baseline built into
// stint, or the admin's own files) with their targets filled in from the
// configuration; the plan that compares them with the tenant; the apply
// that makes the tenant match; the drift the reconcile reports (and may
// repair); the coverage `stint check` reports.
//
// stint owns only the policies it created: each is recorded in the ledger
// (a mark "policy/<key>" holding its id, the key being its file's name)
// and named with the "stint: " prefix. A policy it did not create is never
// changed, whatever its name; one with a stint policy's name blocks that
// policy's creation (a conflict) until an administrator renames or removes
// it.
package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/stintdev/stint/infra/policies"
	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/fault"
)

// Prefix starts the name of every policy stint manages.
const Prefix = "stint: "

// Graph's policy states.
const (
	Enabled    = "enabled"
	Disabled   = "disabled"
	ReportOnly = "enabledForReportingButNotEnforced"
)

// Desired is one policy as stint wants it, but for its state (report-only
// until enforcement is chosen).
type Desired struct {
	// Key is the file's name without ".json": stint's name for the policy.
	Key string
	// Name is its displayName, with the prefix.
	Name string
	// Body is Graph's JSON, targets filled in, without state.
	Body map[string]any
}

// Load reads the desired policies: the baseline, or the files in
// cfg.Dir, each filled in from the configuration and checked. Every
// problem is reported, naming the file and the field or the variable.
func Load(cfg config.Policies, groups map[string]string) ([]Desired, error) {
	var errs []error
	if len(cfg.BreakGlass) == 0 {
		errs = append(errs, fault.Errorf(fault.Invalid, "STINT_BREAK_GLASS is not set: every Conditional Access policy stint manages must exclude your emergency-access accounts; write user:<objectId> or group:<objectId>, comma separated"))
	}
	if len(groups) == 0 {
		errs = append(errs, fault.Errorf(fault.Invalid, "STINT_GROUPS is not set: the policies target the allow-listed groups"))
	}
	fsys, where := fs.FS(policies.Baseline), "the built-in baseline"
	if cfg.Dir != "" {
		fsys, where = os.DirFS(cfg.Dir), cfg.Dir
	}
	files, err := fs.Glob(fsys, "*.json")
	if err != nil || len(files) == 0 {
		errs = append(errs, fault.Errorf(fault.Invalid, "STINT_POLICIES: no *.json policy files in %s", where))
	}
	var out []Desired
	names := map[string]string{}
	for _, f := range files {
		raw, err := fs.ReadFile(fsys, f)
		if err != nil {
			errs = append(errs, fault.Errorf(fault.Invalid, "policy %s: %v", path.Join(where, f), err))
			continue
		}
		d, err := fill(strings.TrimSuffix(f, ".json"), raw, cfg, groups)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %s: %w", path.Join(where, f), err))
			continue
		}
		if other, ok := names[strings.ToLower(d.Name)]; ok {
			errs = append(errs, fault.Errorf(fault.Invalid, "policy %s: displayName %q is also %s's: give each policy its own name", path.Join(where, f), d.Name, other))
		}
		names[strings.ToLower(d.Name)] = f
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

// fill checks one file and fills in what the configuration decides: the
// groups it targets (every allow-listed one), the break-glass exclusions,
// the allowed apps of a policy that blocks all apps, the sign-in
// frequency, the authentication strength. Targets and exclusions in the
// file are checked, not trusted.
func fill(key string, raw []byte, cfg config.Policies, groups map[string]string) (Desired, error) {
	var body map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return Desired{}, fault.Errorf(fault.Invalid, "not a JSON object: %v", err)
	}
	body = strip(body)
	delete(body, "state") // stint decides: report-only until enforced
	name, _ := body["displayName"].(string)
	if strings.TrimSpace(name) == "" {
		return Desired{}, fault.Errorf(fault.Invalid, "displayName is missing")
	}
	if !strings.HasPrefix(name, Prefix) {
		name = Prefix + name
	}
	body["displayName"] = name
	f := &filler{body: body, cfg: cfg}
	f.users(groups)
	f.controls()
	if err := errors.Join(f.errs...); err != nil {
		return Desired{}, err
	}
	return Desired{Key: key, Name: name, Body: body}, nil
}

// filler fills one policy body, gathering every problem.
type filler struct {
	body map[string]any
	cfg  config.Policies
	errs []error
}

func (f *filler) bad(format string, args ...any) {
	f.errs = append(f.errs, fault.Errorf(fault.Invalid, format, args...))
}

// users targets every allow-listed group and excludes the break-glass
// accounts, refusing other targets and exclusions of a managed group.
func (f *filler) users(groups map[string]string) {
	users := object(object(f.body, "conditions"), "users")
	for _, field := range []string{"includeUsers", "includeRoles"} {
		if len(strs(users[field])) > 0 {
			f.bad("conditions.users.%s: stint's policies target the allow-listed groups only; leave it empty", field)
		}
	}
	if users["includeGuestsOrExternalUsers"] != nil {
		f.bad("conditions.users.includeGuestsOrExternalUsers: stint's policies target the allow-listed groups only; leave it out")
	}
	managed := map[string]bool{}
	for _, id := range groups {
		managed[strings.ToLower(id)] = true
	}
	for _, id := range strs(users["includeGroups"]) {
		if !managed[strings.ToLower(id)] {
			f.bad("conditions.users.includeGroups: %s is not an allow-listed group (STINT_GROUPS); stint fills in the targets itself", id)
		}
	}
	for _, id := range strs(users["excludeGroups"]) {
		if managed[strings.ToLower(id)] {
			f.bad("conditions.users.excludeGroups: %s is an allow-listed group: the policy would not govern it", id)
		}
	}
	users["includeGroups"] = sortedLower(mapValues(groups))
	excludeUsers, excludeGroups := strs(users["excludeUsers"]), strs(users["excludeGroups"])
	for _, p := range f.cfg.BreakGlass {
		if p.Kind == "user" {
			excludeUsers = append(excludeUsers, p.ID)
		} else {
			excludeGroups = append(excludeGroups, p.ID)
		}
	}
	users["excludeUsers"], users["excludeGroups"] = sortedLower(excludeUsers), sortedLower(excludeGroups)
}

// controls checks the apps and the controls, and fills in the allowed
// apps, the authentication strength and the sign-in frequency.
func (f *filler) controls() {
	conditions := object(f.body, "conditions")
	apps := object(conditions, "applications")
	included := strs(apps["includeApplications"])
	if len(included) == 0 && len(strs(apps["includeUserActions"])) == 0 {
		f.bad("conditions.applications.includeApplications is empty: name the apps the policy covers, or All")
	}
	grant, _ := f.body["grantControls"].(map[string]any)
	session, _ := f.body["sessionControls"].(map[string]any)
	if grant == nil && session == nil {
		f.bad("the policy has neither grantControls nor sessionControls: it would do nothing")
	}
	controls := strs(grant["builtInControls"])
	if slices.Contains(controls, "block") && slices.Contains(included, "All") && slices.Contains(strs(conditions["clientAppTypes"]), "all") {
		allowed := append(strs(apps["excludeApplications"]), f.cfg.AllowedApps...)
		if len(allowed) == 0 {
			f.bad("it blocks every app and STINT_ALLOWED_APPS is not set: contractors could reach nothing; list the application ids they may use")
		}
		apps["excludeApplications"] = sortedLower(allowed)
	}
	if slices.Contains(controls, "mfa") && f.cfg.AuthStrength != "" {
		grant["builtInControls"] = toAny(slices.DeleteFunc(controls, func(c string) bool { return c == "mfa" }))
		grant["authenticationStrength"] = map[string]any{"id": f.cfg.AuthStrength}
	}
	if freq, ok := session["signInFrequency"].(map[string]any); ok && f.cfg.SignInFrequency.Value > 0 {
		freq["value"] = json.Number(strconv.Itoa(f.cfg.SignInFrequency.Value))
		freq["type"] = f.cfg.SignInFrequency.Type
	}
}

// serverFields are set by Graph, never by stint.
var serverFields = []string{"id", "createdDateTime", "modifiedDateTime", "templateId", "deletedDateTime", "partialEnablementStrategy"}

// strip removes what Graph sets itself and OData annotations.
func strip(body map[string]any) map[string]any {
	for k := range body {
		if slices.Contains(serverFields, k) || strings.Contains(k, "@odata") {
			delete(body, k)
		}
	}
	return body
}

// object returns m[key] as an object, creating it when absent.
func object(m map[string]any, key string) map[string]any {
	if o, ok := m[key].(map[string]any); ok {
		return o
	}
	o := map[string]any{}
	m[key] = o
	return o
}

// strs reads a JSON array of strings (nil for anything else).
func strs(v any) []string {
	a, _ := v.([]any)
	var out []string
	for _, x := range a {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// sortedLower is s as a JSON array, GUIDs in lower case, sorted, without
// repeats.
func sortedLower(s []string) []any {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if isGUID(x) {
			x = strings.ToLower(x)
		}
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return toAny(out)
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", r):
			return false
		}
	}
	return true
}
