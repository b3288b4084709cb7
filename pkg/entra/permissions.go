package entra

import "slices"

// Permission is a Microsoft Graph application permission stint may need,
// and what for. This table is the one place they are named: `stint check`
// compares a token's roles with it, the sandbox tenant grants the core ones
// by default, the tests use it, the adapter names them in its 403 errors,
// and the README's permission table is generated from it.
type Permission struct {
	Name string
	// For says what stint does with it.
	For string
	// Feature is "core" for the five the runtime needs; an optional
	// feature names itself, and works without its permission (saying so).
	Feature string
}

// The core permissions, least privilege: the runtime works with exactly
// these five.
var (
	ReadUsers         = Permission{"User.Read.All", "finding users by email, reading account state", "core"}
	InviteGuests      = Permission{"User.Invite.All", "inviting guests", "core"}
	GroupMembership   = Permission{"GroupMember.ReadWrite.All", "reading the allow-listed groups, adding and removing members", "core"}
	EnableDisable     = Permission{"User.EnableDisableAccount.All", "blocking and unblocking sign-in", "core"}
	RevokeSessions    = Permission{"User.RevokeSessions.All", "revoking members' sessions", "core"}
	corePermissionSet = []Permission{ReadUsers, InviteGuests, GroupMembership, EnableDisable, RevokeSessions}
)

// The optional ones, each naming its feature; stint works without them,
// saying once what is off.
var (
	ReadPolicies  = Permission{"Policy.Read.All", "reading Conditional Access policies: `stint policy plan`, the reconcile's drift check, `stint check`'s coverage", "conditional access (read)"}
	WritePolicies = Permission{"Policy.ReadWrite.ConditionalAccess", "creating and updating stint's Conditional Access policies: `stint policy apply`, drift repair; give it to an operator's app, not the runtime's", "conditional access (apply)"}
)

// Permissions lists every permission stint knows, by feature, the core
// ones first.
var Permissions = append(slices.Clone(corePermissionSet), ReadPolicies, WritePolicies)

// Core returns the names of the five core permissions.
func Core() []string {
	names := make([]string, len(corePermissionSet))
	for i, p := range corePermissionSet {
		names[i] = p.Name
	}
	return names
}

// PermissionsMarkdown is the README's permission table.
func PermissionsMarkdown() string {
	s := "| permission | feature | for |\n|---|---|---|\n"
	for _, p := range Permissions {
		s += "| `" + p.Name + "` | " + p.Feature + " | " + p.For + " |\n"
	}
	return s
}
