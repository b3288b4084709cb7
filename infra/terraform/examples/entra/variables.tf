variable "tenant_id" {
  description = "The Entra tenant (directory) id."
  type        = string
}

variable "access_groups" {
  description = "The contractor access groups to create, access key => display name."
  type        = map(string)
  default     = { contractor-access = "Contractors (stint)" }
}

variable "break_glass_members" {
  description = "Object ids of the emergency-access accounts for the break-glass group."
  type        = list(string)
  default     = []
}

variable "operator_app" {
  description = "Also create the operator app for `stint policy apply` (Conditional Access writes)."
  type        = bool
  default     = false
}

variable "policy_drift_check" {
  description = "Give the runtime app Policy.Read.All for the reconcile's Conditional Access drift check."
  type        = bool
  default     = false
}

variable "aws_issuer_url" {
  description = "The AWS account's issuer URL: the aws example's aws_issuer_url output, or `aws iam get-outbound-web-identity-federation-info`. Empty before the AWS deployment exists."
  type        = string
  default     = ""
}

variable "aws_role_arns" {
  description = "The roles that get Graph tokens: the aws example's federated_credential_subjects output. Empty before the AWS deployment exists."
  type        = list(string)
  default     = []
  validation {
    condition     = length(var.aws_role_arns) == 0 || var.aws_issuer_url != ""
    error_message = "aws_role_arns needs aws_issuer_url: set it to the aws example's aws_issuer_url output."
  }
}

variable "managed_identity_principal_id" {
  description = "For stint on Azure: the user-assigned managed identity's principal id; empty for none."
  type        = string
  default     = ""
}

variable "signin_activity" {
  description = "Give the runtime app AuditLog.Read.All for sign-in activity (the report's last sign-ins, dormant contractors, sign-ins after the end); needs Entra ID P1 or P2."
  type        = bool
  default     = false
}
