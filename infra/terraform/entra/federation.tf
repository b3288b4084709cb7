# The runtime app's credentials: federated, so that no secret exists.

# AWS (STINT_AZURE_FEDERATION=aws): one per role that calls Graph (the aws
# module's federated_credential_subjects), issuer the account's AWS issuer
# URL (its aws_issuer_url, or `aws iam get-outbound-web-identity-federation-info`).
resource "azuread_application_federated_identity_credential" "aws" {
  for_each       = { for c in var.aws_federated_credentials : c.subject => c }
  application_id = azuread_application.runtime.id
  display_name   = "aws-${replace(basename(each.value.subject), "/[^0-9A-Za-z_-]/", "-")}"
  description    = "stint on AWS: the IAM role ${each.value.subject}."
  issuer         = each.value.issuer
  subject        = each.value.subject
  audiences      = [local.token_exchange_audience]
}

# Azure: the user-assigned managed identity the container apps run as,
# trusted by the app through a federated credential whose issuer is the
# tenant's own and whose subject is the identity's principal (object) id.
# https://learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity
resource "azuread_application_federated_identity_credential" "managed_identity" {
  count          = var.managed_identity_principal_id == "" ? 0 : 1
  application_id = azuread_application.runtime.id
  display_name   = "azure-managed-identity"
  description    = "stint on Azure: the user-assigned managed identity ${var.managed_identity_principal_id}."
  issuer         = "https://login.microsoftonline.com/${data.azuread_client_config.current.tenant_id}/v2.0"
  subject        = var.managed_identity_principal_id
  audiences      = [local.token_exchange_audience]
}
