output "tenant_id" {
  description = "The tenant (AZURE_TENANT_ID)."
  value       = data.azuread_client_config.current.tenant_id
}

output "runtime_client_id" {
  description = "The runtime app's application (client) id (AZURE_CLIENT_ID)."
  value       = azuread_application.runtime.client_id
}

output "operator_client_id" {
  description = "The operator app's application (client) id, or null without operator_app."
  value       = one(azuread_application.operator[*].client_id)
}

output "groups" {
  description = "The access groups' object ids by access key: STINT_GROUPS, and the aws module's groups."
  value       = { for key, g in azuread_group.access : key => g.object_id }
}

output "break_glass_group_id" {
  description = "The break-glass group's object id."
  value       = azuread_group.break_glass.object_id
}

output "break_glass" {
  description = "STINT_BREAK_GLASS, as the aws module's break_glass takes it: [\"group:<break-glass group id>\"]."
  value       = ["group:${azuread_group.break_glass.object_id}"]
}
