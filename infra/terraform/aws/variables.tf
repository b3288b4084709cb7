# Inputs of the stint AWS module. Settings left empty ("" or []) are not
# given to the functions, so stint's own default applies (the README's
# configuration table).

variable "name_prefix" {
  description = "Prefix of every resource's name (functions, queues, table, roles, schedules, alarms)."
  type        = string
  default     = "stint"
}

variable "tags" {
  description = "Tags for every resource that takes them."
  type        = map(string)
  default     = {}
}

# The code, from `make package`.

variable "webhook_zip" {
  description = "Path of the webhook function's zip (bin/webhook.zip from `make package`: `bootstrap`, linux/arm64)."
  type        = string
}

variable "worker_zip" {
  description = "Path of the worker function's zip (bin/worker.zip from `make package`)."
  type        = string
}

variable "sweep_zip" {
  description = "Path of the sweep function's zip (bin/sweep.zip from `make package`)."
  type        = string
}

variable "memory_size" {
  description = "Memory of each function, in MB (CPU grows with it)."
  type        = number
  default     = 256
}

variable "log_retention_days" {
  description = "How long CloudWatch keeps the functions' logs, in days (one of CloudWatch's values: 1, 3, 5, 7, 14, 30, 60, 90, ...)."
  type        = number
  default     = 30
}

# The worker and its queue.

variable "worker_timeout" {
  description = "The worker function's timeout, in seconds. The event queue's visibility timeout is six times this."
  type        = number
  default     = 60
  validation {
    condition     = var.worker_timeout >= 10 && var.worker_timeout <= 900
    error_message = "worker_timeout must be 10 to 900 seconds: the worker keeps the last tenth of its time (at most 10 s) free, and Lambda allows 900 s at most."
  }
}

variable "worker_batch_size" {
  description = "Messages per worker invocation (SQS FIFO allows 1 to 10)."
  type        = number
  default     = 10
  validation {
    condition     = var.worker_batch_size >= 1 && var.worker_batch_size <= 10
    error_message = "worker_batch_size must be 1 to 10: an SQS FIFO event source takes at most 10 messages a batch."
  }
}

variable "worker_max_concurrency" {
  description = "Most worker invocations the queue starts at once (the event source mapping's maximum concurrency, 2 to 1000)."
  type        = number
  default     = 10
  validation {
    condition     = var.worker_max_concurrency >= 2 && var.worker_max_concurrency <= 1000
    error_message = "worker_max_concurrency must be 2 to 1000 (Lambda's bounds for an SQS event source)."
  }
}

# The sweep.

variable "sweep_timeout" {
  description = "The sweep function's timeout, in seconds: one function serves the tick (needs 60 s) and the reconcile (give it 900)."
  type        = number
  default     = 900
  validation {
    condition     = var.sweep_timeout >= 60 && var.sweep_timeout <= 900
    error_message = "sweep_timeout must be 60 to 900 seconds: the tick needs a minute, the reconcile up to 15 minutes."
  }
}

# Entra and Microsoft Graph (no secret: STINT_AZURE_FEDERATION=aws).

variable "azure_tenant_id" {
  description = "AZURE_TENANT_ID: the Entra tenant (directory) id."
  type        = string
}

variable "azure_client_id" {
  description = "AZURE_CLIENT_ID: the runtime app's application (client) id. Its federated identity credentials name the worker and sweep roles (outputs federated_credential_subjects) with the account's AWS issuer URL."
  type        = string
}

variable "azure_authority_host" {
  description = "AZURE_AUTHORITY_HOST: the token service for a sovereign cloud, https://...; empty for Microsoft's global one."
  type        = string
  default     = ""
}

variable "graph_endpoint" {
  description = "STINT_GRAPH_ENDPOINT: the Graph root (no path); empty for stint's default, the global Graph."
  type        = string
  default     = ""
}

variable "manage_outbound_identity_federation" {
  description = "Enable IAM outbound identity federation for the account here (the functions need it to get their STS token). Leave false when it is already enabled, or managed elsewhere: it is one setting per account, and destroying this module would disable it for every user of the account."
  type        = bool
  default     = false
}

# What stint may touch and grant.

variable "groups" {
  description = "STINT_GROUPS: the allow-list, access key => group object id. stint touches no other group."
  type        = map(string)
  validation {
    condition     = length(var.groups) > 0
    error_message = "groups must name at least one access key and its group object id, e.g. { contractor-access = \"<group object id>\" }."
  }
}

variable "default_access" {
  description = "STINT_DEFAULT_ACCESS: access keys granted when an event lists none, each a key of groups; empty for stint's default."
  type        = list(string)
  default     = []
}

variable "send_invitation" {
  description = "STINT_SEND_INVITATION: let Entra email the invitation."
  type        = bool
  default     = false
}

variable "invite_redirect_url" {
  description = "STINT_INVITE_REDIRECT_URL: where invited guests land, https://...; empty for stint's default (My Apps)."
  type        = string
  default     = ""
}

# The reconcile and Conditional Access (the sweep function).

variable "ghost_grace" {
  description = "STINT_GHOST_GRACE: how long the reconcile flags an unjustified member before removing it (90m, 24h, 2d); empty for stint's default."
  type        = string
  default     = ""
}

variable "ghost_action" {
  description = "STINT_GHOST_ACTION: remove ghosts after the grace, or only report them; empty for stint's default (remove)."
  type        = string
  default     = ""
  validation {
    condition     = contains(["", "remove", "report"], var.ghost_action)
    error_message = "ghost_action must be \"remove\", \"report\" or empty."
  }
}

variable "unredeemed_after" {
  description = "STINT_UNREDEEMED_AFTER: flag guests whose invitation is unredeemed after this long (30d); empty for stint's default."
  type        = string
  default     = ""
}

variable "break_glass" {
  description = "STINT_BREAK_GLASS: the emergency-access accounts every stint Conditional Access policy excludes, \"user:<objectId>\" or \"group:<objectId>\". Needed by the reconcile's policy drift check."
  type        = list(string)
  default     = []
}

variable "allowed_apps" {
  description = "STINT_ALLOWED_APPS: application (client) ids contractors may use (Office365 names Microsoft's app group); needed when a policy blocks all apps."
  type        = list(string)
  default     = []
}

variable "signin_frequency" {
  description = "STINT_SIGNIN_FREQUENCY: how often contractors sign in again (1h-23h or 1d-365d); empty for stint's default."
  type        = string
  default     = ""
}

variable "auth_strength" {
  description = "STINT_AUTH_STRENGTH: an authentication strength policy id the MFA policy requires instead of plain MFA; empty for plain MFA."
  type        = string
  default     = ""
}

variable "policies_dir" {
  description = "STINT_POLICIES: a directory of Conditional Access policy files, as the sweep function sees it (in its zip or a layer); empty for the built-in baseline."
  type        = string
  default     = ""
}

variable "policy_drift" {
  description = "STINT_POLICY_DRIFT: report a stint policy changed by hand, or repair it as well; empty for stint's default (report)."
  type        = string
  default     = ""
  validation {
    condition     = contains(["", "report", "repair"], var.policy_drift)
    error_message = "policy_drift must be \"report\", \"repair\" or empty."
  }
}

# The webhook.

variable "webhook_secret_arn" {
  description = "STINT_WEBHOOK_SECRET_ARN: the Secrets Manager secret holding the Standard Webhooks secret(s), whsec_<base64>, several separated by spaces to rotate. Create it outside Terraform (aws secretsmanager create-secret), so that the secret never enters Terraform's state; the webhook reads it at cold start."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.webhook_secret_arn))
    error_message = "webhook_secret_arn must be a Secrets Manager secret's ARN, arn:aws:secretsmanager:<region>:<account>:secret:<name>."
  }
}

# Alarms.

variable "alarm_topic_arn" {
  description = "ARN of the SNS topic the alarms (dead letters waiting, worker errors, no tick for 5 minutes) notify, when they fire and when they clear."
  type        = string
}

# The access report's checks and notifications.

variable "dormant_after" {
  description = "STINT_DORMANT_AFTER: an engaged contractor with no sign-in for this long is dormant (30d, 720h); empty for stint's default (30d)."
  type        = string
  default     = ""
}

variable "dormant_action" {
  description = "STINT_DORMANT_ACTION: report dormant contractors, or also end their access; empty for stint's default (report)."
  type        = string
  default     = ""
  validation {
    condition     = contains(["", "report", "end"], var.dormant_action)
    error_message = "dormant_action must be \"report\", \"end\" or empty."
  }
}

variable "verify_window" {
  description = "STINT_VERIFY_WINDOW: how long after an engagement ends its sign-ins are checked; empty for stint's default (7d)."
  type        = string
  default     = ""
}

variable "remind_before" {
  description = "STINT_REMIND_BEFORE: when to remind the sponsor before an engagement ends, comma separated; empty for stint's default (14d,1d)."
  type        = string
  default     = ""
}

variable "notify_url" {
  description = "STINT_NOTIFY_URL: where notifications go (https); empty for none."
  type        = string
  default     = ""
}

variable "notify_format" {
  description = "STINT_NOTIFY_FORMAT: teams (a Teams Workflows webhook) or slack (an incoming webhook). CloudEvents, stint's default, are signed with a secret this module does not yet give the sweep (it would sit in its environment): with notify_url set, choose teams or slack."
  type        = string
  default     = ""
  validation {
    condition     = contains(["", "teams", "slack"], var.notify_format)
    error_message = "notify_format must be \"teams\" or \"slack\" (or empty with notify_url empty): CloudEvents need a signing secret this module does not give the sweep."
  }
  validation {
    condition     = var.notify_url == "" || var.notify_format != ""
    error_message = "notify_url is set: set notify_format to teams or slack."
  }
}
