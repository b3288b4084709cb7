variable "region" {
  description = "The AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "bin_dir" {
  description = "The directory holding webhook.zip, worker.zip and sweep.zip from `make package` (the repository's bin/ by default)."
  type        = string
  default     = "../../../../bin"
}

variable "azure_tenant_id" {
  description = "The Entra tenant (directory) id."
  type        = string
}

variable "azure_client_id" {
  description = "The runtime app's application (client) id."
  type        = string
}

variable "manage_outbound_identity_federation" {
  description = "Enable IAM outbound identity federation for the account from here (false when it is enabled already)."
  type        = bool
  default     = false
}

variable "groups" {
  description = "The allow-list, access key => group object id (STINT_GROUPS)."
  type        = map(string)
}

variable "break_glass" {
  description = "The emergency-access accounts stint's Conditional Access policies exclude, \"user:<objectId>\" or \"group:<objectId>\"."
  type        = list(string)
  default     = []
}

variable "webhook_secret_arn" {
  description = "The Secrets Manager secret holding the Standard Webhooks secret shared with the HR system (whsec_<base64>), created beforehand with aws secretsmanager create-secret."
  type        = string
}

variable "alarm_email" {
  description = "An address the alarms are mailed to (it must confirm the subscription); empty for none."
  type        = string
  default     = ""
}
