package policy

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
)

// File is a policy written out as a file of its own.
type File struct {
	Name string          `json:"name"` // e.g. "require-mfa-for-vendors.json"
	Body json.RawMessage `json:"body"`
}

// Export reads the tenant's policies that target an allow-listed group,
// as files in the format Load reads: Graph's JSON without what Graph sets
// itself (id, dates) and without empty fields. Their state is kept as the
// tenant has it, for the reader; Load ignores it.
func Export(ctx context.Context, t Tenant, groups map[string]string) ([]File, error) {
	tenant, err := read(ctx, t)
	if err != nil {
		return nil, err
	}
	var out []File
	used := map[string]int{}
	for _, r := range tenant {
		if len(targeted(r, groups)) == 0 {
			continue
		}
		body, err := json.MarshalIndent(prune(strip(r.body)), "", "  ")
		if err != nil {
			return nil, err
		}
		name := slug(strings.TrimPrefix(r.name, Prefix))
		if used[name]++; used[name] > 1 {
			name += "-" + r.id[:8]
		}
		out = append(out, File{Name: name + ".json", Body: append(body, '\n')})
	}
	return out, nil
}

// targeted lists the allow-listed group keys r applies to: included by
// group (or every user included), not excluded.
func targeted(r remote, groups map[string]string) []string {
	users, _ := lookup(r.body, "conditions", "users").(map[string]any)
	include, exclude := lower(strs(users["includeGroups"])), lower(strs(users["excludeGroups"]))
	all := slices.Contains(strs(users["includeUsers"]), "All")
	var keys []string
	for k, id := range groups {
		id = strings.ToLower(id)
		if (all || slices.Contains(include, id)) && !slices.Contains(exclude, id) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// prune drops nulls, empty lists and empty objects.
func prune(v map[string]any) map[string]any {
	for k, x := range v {
		switch y := x.(type) {
		case nil:
			delete(v, k)
		case []any:
			if len(y) == 0 {
				delete(v, k)
			}
		case map[string]any:
			if len(prune(y)) == 0 {
				delete(v, k)
			}
		}
	}
	return v
}

func lookup(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[p]
	}
	return v
}

func lower(s []string) []string {
	for i := range s {
		s[i] = strings.ToLower(s[i])
	}
	return s
}

var notSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slug(name string) string {
	s := strings.Trim(notSlug.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if s == "" {
		return "policy"
	}
	return s
}
