# stint's Entra side: the runtime app registration with exactly the five
# core Graph application permissions (and Policy.Read.All with
# policy_drift_check, AuditLog.Read.All with signin_activity), consented; an optional operator app
# for Conditional Access writes; the contractor access groups; the
# break-glass exclusion group; and the federated identity credentials that
# let the AWS roles or the Azure managed identity get Graph tokens with no
# secret. pkg/entra's Permission table is the source of the app-role ids;
# go test ./infra/terraform checks that these are the same.

locals {
  # Microsoft Graph's application id, the same in every tenant.
  graph_app_id = "00000003-0000-0000-c000-000000000000"

  # The audience Entra expects in a federated assertion (entra.AWSAudience).
  token_exchange_audience = "api://AzureADTokenExchange"

  # The core permissions, name => application permission (app role) id,
  # https://learn.microsoft.com/graph/permissions-reference
  core_app_roles = {
    "User.Read.All"                 = "df021288-bdef-4463-88db-98f22de89214"
    "User.Invite.All"               = "09850681-111b-4a89-9bed-3f2cae46d706"
    "GroupMember.ReadWrite.All"     = "dbaae8cf-10b5-4b86-a4a1-f871c94c6695"
    "User.EnableDisableAccount.All" = "3011c876-62b7-4ada-afa2-506cbbecc68c"
    "User.RevokeSessions.All"       = "77f3a031-c388-4f99-b373-dc68676a979e"
  }

  # With var.policy_drift_check, reading Conditional Access policies too:
  # the reconcile's drift check (STINT_POLICY_DRIFT). Never writing them.
  drift_app_roles = {
    "Policy.Read.All" = "246dd0d5-5bd0-4def-940b-0421030a5b68"
  }

  # With var.signin_activity, reading sign-in activity and the sign-in log:
  # the report's last sign-ins, dormant contractors, sign-ins after the end
  # (needs Entra ID P1 or P2 as well).
  signin_app_roles = {
    "AuditLog.Read.All" = "b0afded3-3588-46d8-8b3d-9842eff778da"
  }

  runtime_app_roles = merge(local.core_app_roles, var.policy_drift_check ? local.drift_app_roles : {},
  var.signin_activity ? local.signin_app_roles : {})

  # The operator's: writing stint's Conditional Access policies and reading
  # them (and the rest of the tenant's policies) to plan.
  operator_app_roles = {
    "Policy.ReadWrite.ConditionalAccess" = "01c0a623-fc9b-48e9-b794-0756f8e8f067"
    "Policy.Read.All"                    = "246dd0d5-5bd0-4def-940b-0421030a5b68"
  }

  owners = [data.azuread_client_config.current.object_id]
}

data "azuread_client_config" "current" {}

# Graph's service principal in the tenant: the resource the app roles are
# granted on.
data "azuread_service_principal" "graph" {
  client_id = local.graph_app_id
}
