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
	// AppRoleID is the permission's published id as an application
	// permission: the app role of Microsoft Graph's service principal
	// (appId GraphAppID) that an app requests and is granted. The same
	// name as a delegated permission has another id.
	// https://learn.microsoft.com/graph/permissions-reference
	AppRoleID string
}

// GraphAppID is Microsoft Graph's application id, the same in every
// tenant: the resource whose app roles the permissions are.
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// The core permissions, least privilege: the runtime works with exactly
// these five.
var (
	ReadUsers         = Permission{"User.Read.All", "finding users by email, reading account state", "core", "df021288-bdef-4463-88db-98f22de89214"}
	InviteGuests      = Permission{"User.Invite.All", "inviting guests", "core", "09850681-111b-4a89-9bed-3f2cae46d706"}
	GroupMembership   = Permission{"GroupMember.ReadWrite.All", "reading the allow-listed groups, adding and removing members", "core", "dbaae8cf-10b5-4b86-a4a1-f871c94c6695"}
	EnableDisable     = Permission{"User.EnableDisableAccount.All", "blocking and unblocking sign-in", "core", "3011c876-62b7-4ada-afa2-506cbbecc68c"}
	RevokeSessions    = Permission{"User.RevokeSessions.All", "revoking members' sessions", "core", "77f3a031-c388-4f99-b373-dc68676a979e"}
	corePermissionSet = []Permission{ReadUsers, InviteGuests, GroupMembership, EnableDisable, RevokeSessions}
)

// The optional ones, each naming its feature; stint works without them,
// saying once what is off.
var (
	ReadPolicies  = Permission{"Policy.Read.All", "reading Conditional Access policies: `stint policy plan`, the reconcile's drift check, `stint check`'s coverage", "conditional access (read)", "246dd0d5-5bd0-4def-940b-0421030a5b68"}
	ReadSignIns   = Permission{"AuditLog.Read.All", "reading sign-in activity and the sign-in log: the report's last sign-ins, dormant contractors, sign-ins after the end; needs Entra ID P1", "sign-in activity", "b0afded3-3588-46d8-8b3d-9842eff778da"}
	WritePolicies = Permission{"Policy.ReadWrite.ConditionalAccess", "creating and updating stint's Conditional Access policies: `stint policy apply`, drift repair; give it to an operator's app, not the runtime's", "conditional access (apply)", "01c0a623-fc9b-48e9-b794-0756f8e8f067"}
)

// Permissions lists every permission stint knows, by feature, the core
// ones first.
var Permissions = append(slices.Clone(corePermissionSet), ReadPolicies, WritePolicies, ReadSignIns)

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
