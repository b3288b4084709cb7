package host

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/policy"
)

// Check is one line of stint check.
type Check struct {
	What   string `json:"what"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Warning marks a line that does not fail the check but needs a look
	// (an optional permission missing, a report-only policy).
	Warning bool `json:"warning,omitempty"`
}

// CheckTenant gets a Graph token with the client's credential, compares the
// application permissions it carries with the core ones (entra.Core), and
// reads every allow-listed group, saying precisely what is missing.
func CheckTenant(ctx context.Context, dir *entra.Client, groups map[string]string) []Check {
	var out []Check
	add := func(what string, err error, detail string) bool {
		if err != nil {
			out = append(out, Check{What: what, Detail: err.Error()})
			return false
		}
		out = append(out, Check{What: what, OK: true, Detail: detail})
		return true
	}
	add("STINT_GROUPS", nil, fmt.Sprintf("%d allow-listed group(s)", len(groups)))
	endpoint := dir.Endpoint()
	tok, err := dir.Credential().GetToken(ctx, azpolicy.TokenRequestOptions{Scopes: []string{endpoint + "/.default"}})
	if !add("token for "+endpoint, err, "issued") {
		return out
	}
	roles, err := rolesOf(tok.Token)
	if !add("token roles", err, strings.Join(roles, ", ")) {
		return out
	}
	for _, p := range entra.Core() {
		if slices.Contains(roles, p) {
			out = append(out, Check{What: "permission " + p, OK: true, Detail: "granted"})
		} else {
			out = append(out, Check{What: "permission " + p, Detail: "not granted: add the application permission " + p + " to the app and grant admin consent"})
		}
	}
	for _, p := range entra.Permissions[len(entra.Core()):] {
		if slices.Contains(roles, p.Name) {
			out = append(out, Check{What: "permission " + p.Name, OK: true, Detail: "granted (optional: " + p.Feature + ")"})
		} else {
			out = append(out, Check{What: "permission " + p.Name, OK: true, Warning: true, Detail: "not granted (optional: " + p.Feature + ", for " + p.For + ")"})
		}
	}
	add("allow-listed groups", engagement.CheckGroups(ctx, dir, groups), "all readable, none role-assignable")
	return append(out, coverage(ctx, dir, groups)...)
}

// coverage checks that every allow-listed group is governed by an enabled
// Conditional Access policy that requires multifactor authentication (or
// an authentication strength); report-only ones are a warning.
func coverage(ctx context.Context, dir *entra.Client, groups map[string]string) []Check {
	covers, err := policy.Covers(ctx, dir, groups)
	if fault.Is(err, fault.Unauthorized) {
		return []Check{{What: "conditional access", OK: true, Warning: true, Detail: "not checked: " + err.Error()}}
	}
	if err != nil {
		return []Check{{What: "conditional access", Detail: err.Error()}}
	}
	var out []Check
	for _, c := range covers {
		what := "conditional access for " + c.Key
		switch {
		case c.Covered():
			out = append(out, Check{What: what, OK: true, Detail: "MFA required by " + strings.Join(c.Enforced, ", ")})
		case len(c.ReportOnly) > 0:
			out = append(out, Check{What: what, OK: true, Warning: true, Detail: "only report-only policies require MFA (" + strings.Join(c.ReportOnly, ", ") + "): once the sign-in logs look right, run stint policy apply --enforce"})
		default:
			out = append(out, Check{What: what, Detail: "group " + c.GroupID + " is not targeted by an enabled Conditional Access policy that requires MFA: run stint policy apply, or add it to such a policy"})
		}
	}
	return out
}

// Check runs CheckTenant on the host's own tenant (the sandbox's, too).
func (h *Host) Check(ctx context.Context) []Check {
	return CheckTenant(ctx, h.directory, h.Groups)
}

func (h *Host) controlCheck(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(h.Check(r.Context()))
}

// RemoteCheck runs Check in the stint serve that owns the data directory.
func RemoteCheck(ctx context.Context, data string) ([]Check, error) {
	var out []Check
	err := control(ctx, data, http.MethodGet, "/check", nil, &out)
	return out, err
}

// rolesOf reads the roles claim of an access token (the application
// permissions granted). It does not verify the token: Graph does that.
func rolesOf(token string) ([]string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("the access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("the access token's payload is not base64url")
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("the access token's payload is not JSON")
	}
	return claims.Roles, nil
}
