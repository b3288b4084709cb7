variable "runtime_app_name" {
  description = "The runtime app registration's display name."
  type        = string
  default     = "stint"
}

variable "policy_drift_check" {
  description = "Also give the runtime app Policy.Read.All, for the reconcile's Conditional Access drift check (STINT_POLICY_DRIFT): it reads the tenant's policies and reports stint's own changed by hand. Off, the reconcile says once that the check is off and goes on; repairing needs Policy.ReadWrite.ConditionalAccess, which only the operator app has."
  type        = bool
  default     = false
}

variable "signin_activity" {
  description = "Also give the runtime app AuditLog.Read.All, for sign-in activity: the access report's last sign-ins, dormant contractors (STINT_DORMANT_AFTER) and sign-ins after the end (STINT_VERIFY_WINDOW). Needs Entra ID P1 or P2. Off, the reconcile says once that sign-ins are unknown and goes on."
  type        = bool
  default     = false
}

variable "operator_app" {
  description = "Create the operator app, with Policy.ReadWrite.ConditionalAccess and Policy.Read.All, for `stint policy apply` and drift repair. The runtime app never gets them."
  type        = bool
  default     = false
}

variable "operator_app_name" {
  description = "The operator app registration's display name (when operator_app)."
  type        = string
  default     = "stint-operator"
}

variable "access_groups" {
  description = "The contractor access groups to create, access key => display name; their ids, by key, are the groups output (STINT_GROUPS)."
  type        = map(string)
  validation {
    condition     = length(var.access_groups) > 0
    error_message = "access_groups must name at least one access key and its group's display name, e.g. { contractor-access = \"Contractors (stint)\" }."
  }
}

variable "break_glass_group_name" {
  description = "The break-glass group's display name: the emergency-access accounts every stint Conditional Access policy excludes."
  type        = string
  default     = "stint break-glass"
}

variable "break_glass_members" {
  description = "Object ids of the emergency-access accounts to put in the break-glass group; empty to manage its membership elsewhere."
  type        = list(string)
  default     = []
}

variable "aws_federated_credentials" {
  description = "For stint on AWS: one federated identity credential per IAM role that calls Graph, {issuer = the account's AWS issuer URL, subject = the role's ARN} (the aws module's aws_issuer_url and federated_credential_subjects)."
  type        = list(object({ issuer = string, subject = string }))
  default     = []
  validation {
    condition     = alltrue([for c in var.aws_federated_credentials : startswith(c.issuer, "https://") && startswith(c.subject, "arn:aws")])
    error_message = "aws_federated_credentials: each issuer must be the account's https:// issuer URL and each subject an IAM role ARN (arn:aws...:role/...)."
  }
}

variable "managed_identity_principal_id" {
  description = "For stint on Azure: the user-assigned managed identity's principal (object) id, trusted by the runtime app through a federated credential; empty for none."
  type        = string
  default     = ""
}
