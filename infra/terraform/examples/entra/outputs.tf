output "azure_tenant_id" {
  description = "The tenant: the aws example's azure_tenant_id."
  value       = module.stint.tenant_id
}

output "azure_client_id" {
  description = "The runtime app's client id: the aws example's azure_client_id."
  value       = module.stint.runtime_client_id
}

output "operator_client_id" {
  description = "The operator app's client id, when created."
  value       = module.stint.operator_client_id
}

output "groups" {
  description = "The access groups by key: the aws example's groups (STINT_GROUPS)."
  value       = module.stint.groups
}

output "break_glass_group_id" {
  description = "The break-glass group's object id."
  value       = module.stint.break_glass_group_id
}

output "break_glass" {
  description = "The aws example's break_glass (STINT_BREAK_GLASS)."
  value       = module.stint.break_glass
}
