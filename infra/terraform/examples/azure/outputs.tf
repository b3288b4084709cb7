output "webhook_url" {
  description = "Where the HR system posts its signed events."
  value       = module.stint.webhook_url
}

output "runtime_principal_id" {
  description = "The entra example's managed_identity_principal_id: apply it there next."
  value       = module.stint.runtime_principal_id
}

output "resource_group_name" {
  description = "The resource group (az containerapp logs show -g <this>)."
  value       = module.stint.resource_group_name
}

output "key_vault_name" {
  description = "The vault holding the webhook secret."
  value       = module.stint.key_vault_name
}

output "log_analytics_workspace_id" {
  description = "For az monitor log-analytics query --workspace <this>."
  value       = module.stint.log_analytics_workspace_id
}

output "app_names" {
  description = "The container apps and jobs, by role."
  value       = module.stint.app_names
}

output "queue_url" {
  description = "STINT_QUEUE_URL, for stint dlq commands run as the runtime identity."
  value       = module.stint.queue_url
}

output "store" {
  description = "STINT_STORE, the PostgreSQL ledger."
  value       = module.stint.store
}

output "servicebus_namespace" {
  description = "The Service Bus namespace (az servicebus queue show --namespace-name <this> --name stint-events)."
  value       = module.stint.servicebus_namespace
}
