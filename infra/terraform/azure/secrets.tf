# The webhook's signing secret, in Key Vault. Its value is a write-only
# argument from an ephemeral variable: it is sent to Key Vault and kept
# neither in Terraform's state nor in a saved plan. The webhook reads it
# as a Key Vault-referenced Container Apps secret (apps.tf).

resource "azurerm_key_vault" "this" {
  name                       = "${var.name_prefix}-kv-${local.suffix}"
  location                   = azurerm_resource_group.this.location
  resource_group_name        = azurerm_resource_group.this.name
  tenant_id                  = var.azure_tenant_id
  sku_name                   = "standard"
  rbac_authorization_enabled = true
  purge_protection_enabled   = true
  soft_delete_retention_days = var.key_vault_soft_delete_days
  tags                       = var.tags
}

resource "azurerm_key_vault_secret" "webhook" {
  name         = "stint-webhook-secret"
  key_vault_id = azurerm_key_vault.this.id
  content_type = "Standard Webhooks secret(s), whsec_<base64>, space separated"
  # Raise webhook_secret_version to write a new value (rotation).
  value_wo         = var.webhook_secret
  value_wo_version = var.webhook_secret_version
  depends_on       = [azurerm_role_assignment.deployer_secrets]
}
