// Package config reads stint's settings from the environment. Each reader
// returns one precise error naming the variable, what is wrong and what to
// write instead; none prints a secret.
package config

import (
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/fault"
)

var (
	guidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	keyRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// DefaultRedirectURL is where invited guests land when
// STINT_INVITE_REDIRECT_URL is unset: their My Apps portal.
const DefaultRedirectURL = "https://myapps.microsoft.com"

// Groups reads STINT_GROUPS, the allow-list: key=groupObjectId, comma
// separated. stint touches no other group.
func Groups() (map[string]string, error) {
	raw := strings.TrimSpace(os.Getenv("STINT_GROUPS"))
	if raw == "" {
		return nil, fault.Errorf(fault.Invalid, "STINT_GROUPS is not set: want key=groupObjectId[,key=groupObjectId…], e.g. contractor-access=6f1c2f3e-0000-4000-8000-000000000001")
	}
	groups := map[string]string{}
	seen := map[string]string{}
	for i, entry := range strings.Split(raw, ",") {
		key, id, ok := strings.Cut(strings.TrimSpace(entry), "=")
		key, id = strings.TrimSpace(key), strings.TrimSpace(id)
		switch {
		case !ok:
			return nil, fault.Errorf(fault.Invalid, "STINT_GROUPS: entry %d (%q) is not key=groupObjectId", i+1, entry)
		case !keyRe.MatchString(key):
			return nil, fault.Errorf(fault.Invalid, "STINT_GROUPS: entry %d: key %q must be 1-64 letters, digits, '.', '_' or '-'", i+1, key)
		case !guidRe.MatchString(id):
			return nil, fault.Errorf(fault.Invalid, "STINT_GROUPS: entry %d: %q is not a group object id (a GUID, as shown in Entra under the group's Object ID)", i+1, id)
		case groups[key] != "":
			return nil, fault.Errorf(fault.Invalid, "STINT_GROUPS: key %q is listed twice", key)
		case seen[strings.ToLower(id)] != "":
			return nil, fault.Errorf(fault.Invalid, "STINT_GROUPS: group %s is listed under both %q and %q", id, seen[strings.ToLower(id)], key)
		}
		groups[key] = strings.ToLower(id)
		seen[strings.ToLower(id)] = key
	}
	return groups, nil
}

// Keys returns the allow-list's keys, sorted.
func Keys(groups map[string]string) []string {
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// DefaultAccess reads STINT_DEFAULT_ACCESS (default "contractor-access"),
// comma separated; every key must be in the allow-list.
func DefaultAccess(groups map[string]string) ([]string, error) {
	raw := os.Getenv("STINT_DEFAULT_ACCESS")
	if strings.TrimSpace(raw) == "" {
		raw = "contractor-access"
	}
	var keys []string
	for _, k := range strings.Split(raw, ",") {
		k = strings.TrimSpace(k)
		if _, ok := groups[k]; !ok {
			return nil, fault.Errorf(fault.Invalid, "STINT_DEFAULT_ACCESS: %q is not a key of STINT_GROUPS (%s); set STINT_DEFAULT_ACCESS to one of them", k, strings.Join(Keys(groups), ", "))
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// Required reads a variable that must be set.
func Required(name, want string) (string, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return "", fault.Errorf(fault.Invalid, "%s is not set: want %s", name, want)
	}
	return v, nil
}

// Invitation reads STINT_SEND_INVITATION (default false: Entra sends no
// email, as Graph's own default) and STINT_INVITE_REDIRECT_URL (default
// DefaultRedirectURL; must be https).
func Invitation() (send bool, redirect string, err error) {
	if raw := os.Getenv("STINT_SEND_INVITATION"); raw != "" {
		if send, err = strconv.ParseBool(raw); err != nil {
			return false, "", fault.Errorf(fault.Invalid, "STINT_SEND_INVITATION %q: want true or false", raw)
		}
	}
	redirect = os.Getenv("STINT_INVITE_REDIRECT_URL")
	if redirect == "" {
		return send, DefaultRedirectURL, nil
	}
	if u, perr := url.Parse(redirect); perr != nil || u.Scheme != "https" || u.Host == "" {
		return false, "", fault.Errorf(fault.Invalid, "STINT_INVITE_REDIRECT_URL %q: want an https URL, e.g. %s", redirect, DefaultRedirectURL)
	}
	return send, redirect, nil
}

// Duration reads a Go duration ("24h", "30m"), or a number of days ("30d"),
// with a default when unset.
func Duration(name string, def time.Duration) (time.Duration, error) {
	raw := strings.TrimSpace(os.Getenv(name))
	if raw == "" {
		return def, nil
	}
	if days, ok := strings.CutSuffix(raw, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 {
		return 0, fault.Errorf(fault.Invalid, "%s %q: want a duration like 24h, 90m or 30d", name, raw)
	}
	return d, nil
}

// GhostAction reads STINT_GHOST_ACTION: "remove" (default) removes ghosts
// after the grace period, "report" only flags them.
func GhostAction() (reportOnly bool, err error) {
	switch v := strings.TrimSpace(os.Getenv("STINT_GHOST_ACTION")); v {
	case "", "remove":
		return false, nil
	case "report":
		return true, nil
	default:
		return false, fault.Errorf(fault.Invalid, "STINT_GHOST_ACTION %q: want remove or report", v)
	}
}
