package policy

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Comparing a desired policy with the tenant's: both sides are reduced to
// their leaves ("conditions.users.includeGroups" → its value), leaving out
// what Graph sets itself, null, empty lists and empty objects (Graph
// answers with many of those a file never writes), and reading every list
// of strings as a set (GUIDs in lower case): Graph does not keep their
// order. What is left must be equal: a field the tenant has and stint does
// not want is a difference too (an exclusion added by hand).

// leaves flattens a policy body into its comparable leaves.
func leaves(body map[string]any) map[string]string {
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case nil:
		case map[string]any:
			for k, sub := range x {
				if strings.Contains(k, "@odata") || prefix == "" && slices.Contains(serverFields, k) {
					continue
				}
				walk(join(prefix, k), sub)
			}
		case []any:
			if len(x) == 0 {
				return
			}
			if s := strs(x); len(s) == len(x) {
				b, _ := json.Marshal(sortedLower(s))
				out[prefix] = string(b)
				return
			}
			for i, sub := range x {
				walk(prefix+"["+strconv.Itoa(i)+"]", sub)
			}
		default:
			b, _ := json.Marshal(x)
			out[prefix] = string(b)
		}
	}
	walk("", body)
	return out
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// differences lists the fields where got is not want, sorted.
func differences(want, got map[string]any) []string {
	w, g := leaves(want), leaves(got)
	var out []string
	for _, k := range slices.Sorted(maps.Keys(w)) {
		if g[k] != w[k] {
			out = append(out, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(g)) {
		if _, ok := w[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
