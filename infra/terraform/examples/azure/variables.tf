variable "subscription_id" {
  description = "The Azure subscription to deploy to (az account show --query id -o tsv)."
  type        = string
}

variable "location" {
  description = "The Azure region, e.g. westeurope."
  type        = string
  default     = "westeurope"
}

variable "image" {
  description = "The stint image, e.g. <registry>.azurecr.io/stint:<version>, pushed beforehand."
  type        = string
}

variable "registry" {
  description = "The Azure Container Registry holding the image, {id, login_server}; null for a public image."
  type        = object({ id = string, login_server = string })
  default     = null
}

variable "azure_tenant_id" {
  description = "The Entra tenant (directory) id: the entra example's azure_tenant_id output."
  type        = string
}

variable "azure_client_id" {
  description = "The runtime app's application (client) id: the entra example's azure_client_id output."
  type        = string
}

variable "groups" {
  description = "The allow-list, access key => group object id (STINT_GROUPS): the entra example's groups output."
  type        = map(string)
}

variable "break_glass" {
  description = "The emergency-access accounts stint's Conditional Access policies exclude: the entra example's break_glass output."
  type        = list(string)
  default     = []
}

variable "webhook_secret" {
  description = "The Standard Webhooks secret shared with the HR system, whsec_<base64>; set TF_VAR_webhook_secret rather than writing it in a file. Kept in neither the state nor the plan."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "webhook_secret_version" {
  description = "Raise to write a new webhook_secret to Key Vault (rotation)."
  type        = number
  default     = 1
}
