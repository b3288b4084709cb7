output "webhook_url" {
  description = "Where the HR system posts its signed events (stint send --url)."
  value       = "https://${azurerm_container_app.webhook.ingress[0].fqdn}/events"
}

output "runtime_principal_id" {
  description = "The runtime identity's principal (object) id: the entra module's managed_identity_principal_id (the subject of the Entra app's federated credential)."
  value       = azurerm_user_assigned_identity.runtime.principal_id
}

output "runtime_client_id" {
  description = "The runtime identity's client id (STINT_MANAGED_IDENTITY_CLIENT_ID of the worker and the jobs)."
  value       = azurerm_user_assigned_identity.runtime.client_id
}

output "runtime_identity_name" {
  description = "The runtime identity's name: its role on the PostgreSQL server (STINT_STORE's user)."
  value       = azurerm_user_assigned_identity.runtime.name
}

output "resource_group_name" {
  description = "The resource group holding everything."
  value       = azurerm_resource_group.this.name
}

output "queue_url" {
  description = "STINT_QUEUE_URL: the Service Bus session queue."
  value       = local.queue_url
}

output "store" {
  description = "STINT_STORE: the PostgreSQL ledger, as the runtime identity (no password: an Entra token)."
  value       = local.store
}

output "key_vault_name" {
  description = "The vault holding the webhook secret (az keyvault secret show --vault-name <this> --name stint-webhook-secret)."
  value       = azurerm_key_vault.this.name
}

output "log_analytics_workspace_id" {
  description = "The Log Analytics workspace's id (customer id) for az monitor log-analytics query."
  value       = azurerm_log_analytics_workspace.this.workspace_id
}

output "app_names" {
  description = "The container apps and jobs, by role."
  value = {
    webhook   = azurerm_container_app.webhook.name
    worker    = azurerm_container_app.worker.name
    tick      = azurerm_container_app_job.tick.name
    reconcile = azurerm_container_app_job.reconcile.name
  }
}

output "servicebus_namespace" {
  description = "The Service Bus namespace's name (az servicebus queue show --namespace-name <this>)."
  value       = azurerm_servicebus_namespace.this.name
}
