package policy

import (
	"context"
	"slices"
	"strings"
)

// Coverage says which policies requiring multifactor authentication (or an
// authentication strength) govern one allow-listed group.
type Coverage struct {
	Key     string `json:"key"`
	GroupID string `json:"groupId"`
	// Enforced are the enabled policies that cover it; ReportOnly the ones
	// that only report.
	Enforced   []string `json:"enforced"`
	ReportOnly []string `json:"reportOnly"`
}

// Covered reports whether an enabled policy governs the group.
func (c Coverage) Covered() bool { return len(c.Enforced) > 0 }

// Covers reads every policy in the tenant, stint's or not, and reports for
// each allow-listed group the policies that target it and require
// multifactor authentication or an authentication strength.
func Covers(ctx context.Context, t Tenant, groups map[string]string) ([]Coverage, error) {
	tenant, err := read(ctx, t)
	if err != nil {
		return nil, err
	}
	var out []Coverage
	for _, key := range sortedKeys(groups) {
		c := Coverage{Key: key, GroupID: groups[key]}
		for _, r := range tenant {
			if !requiresMFA(r) || !slices.Contains(targeted(r, groups), key) {
				continue
			}
			switch r.state {
			case Enabled:
				c.Enforced = append(c.Enforced, r.name)
			case ReportOnly:
				c.ReportOnly = append(c.ReportOnly, r.name)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// requiresMFA: the policy's grant asks for mfa or an authentication
// strength.
func requiresMFA(r remote) bool {
	grant, _ := r.body["grantControls"].(map[string]any)
	if grant == nil {
		return false
	}
	if strength, ok := grant["authenticationStrength"].(map[string]any); ok && strength["id"] != nil {
		return true
	}
	return slices.ContainsFunc(strs(grant["builtInControls"]), func(c string) bool { return strings.EqualFold(c, "mfa") })
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
