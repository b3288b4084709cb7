package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/spf13/cobra"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
)

// Required are the application permissions the runtime app needs.
var Required = []string{"User.Read.All", "User.Invite.All", "GroupMember.ReadWrite.All", "User.EnableDisableAccount.All", "User.RevokeSessions.All"}

// Check is one line of stint check.
type Check struct {
	What   string `json:"what"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func checkCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check configuration, credentials, Graph permissions and the allow-listed groups",
		Long: `Reads the configuration from the environment (STINT_*, AZURE_*), gets a token
for Graph, compares the application permissions it carries with the five stint
needs, and reads every allow-listed group. Says precisely what is missing.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			checks := runChecks(cmd)
			failed := 0
			for _, c := range checks {
				if !c.OK {
					failed++
				}
			}
			if g.asJSON {
				if err := g.printJSON(checks); err != nil {
					return err
				}
			} else {
				for _, c := range checks {
					mark := "ok     "
					if !c.OK {
						mark = "MISSING"
					}
					fmt.Fprintf(g.out, "%s  %-32s %s\n", mark, c.What, c.Detail)
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d check(s) failed", failed)
			}
			return nil
		},
	}
}

func runChecks(cmd *cobra.Command) []Check {
	ctx := cmd.Context()
	var out []Check
	add := func(what string, err error, detail string) bool {
		if err != nil {
			out = append(out, Check{What: what, Detail: err.Error()})
			return false
		}
		out = append(out, Check{What: what, OK: true, Detail: detail})
		return true
	}
	groups, err := config.Groups()
	if !add("STINT_GROUPS", err, fmt.Sprintf("%d allow-listed group(s)", len(groups))) {
		return out
	}
	_, err = config.DefaultAccess(groups)
	add("STINT_DEFAULT_ACCESS", err, "every key allow-listed")
	_, _, err = config.Invitation()
	add("invitation settings", err, "")
	endpoint, err := entra.EndpointFromEnv()
	if !add("STINT_GRAPH_ENDPOINT", err, endpoint) {
		return out
	}
	cred, err := entra.CredentialFromEnv(nil)
	if !add("credential (AZURE_*)", err, "") {
		return out
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{endpoint + "/.default"}})
	if !add("token for "+endpoint, err, "issued") {
		return out
	}
	roles, err := rolesOf(tok.Token)
	if !add("token roles", err, strings.Join(roles, ", ")) {
		return out
	}
	for _, p := range Required {
		if slices.Contains(roles, p) {
			out = append(out, Check{What: "permission " + p, OK: true, Detail: "granted"})
		} else {
			out = append(out, Check{What: "permission " + p, Detail: "not granted: add the application permission " + p + " to the app and grant admin consent"})
		}
	}
	dir, err := entra.New(entra.Config{Endpoint: endpoint, Credential: cred})
	if !add("Graph client", err, "") {
		return out
	}
	add("allow-listed groups", engagement.CheckGroups(ctx, dir, groups), "all readable, none role-assignable")
	return out
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
