# Inputs of the stint Azure module. Settings left empty ("" or []) are not
# given to the apps and jobs, so stint's own default applies (the README's
# configuration table).

variable "name_prefix" {
  description = "Prefix of every resource's name (resource group, apps, jobs, identities, queue namespace, server, vault). Letters, digits and hyphens, starting with a letter, at most 12 characters (the vault's name is at most 24)."
  type        = string
  default     = "stint"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.name_prefix))
    error_message = "name_prefix must be 1 to 12 lower-case letters, digits or hyphens, starting with a letter: it begins globally unique names (Service Bus, PostgreSQL, Key Vault, at most 24 characters)."
  }
}

variable "location" {
  description = "The Azure region, e.g. westeurope."
  type        = string
}

variable "tags" {
  description = "Tags for every resource that takes them."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "How long the Log Analytics workspace keeps the apps' and jobs' logs, in days (30 to 730)."
  type        = number
  default     = 30
  validation {
    condition     = var.log_retention_days >= 30 && var.log_retention_days <= 730
    error_message = "log_retention_days must be 30 to 730 (Log Analytics' bounds for the PerGB2018 tier)."
  }
}

# The image, from infra/container/Dockerfile.

variable "image" {
  description = "The stint image every app and job runs, e.g. myregistry.azurecr.io/stint:v1.2.0 (docker build -f infra/container/Dockerfile)."
  type        = string
}

variable "registry" {
  description = "The Azure Container Registry holding a private image, {id = its resource id, login_server = its host}: the module makes a pull identity with AcrPull on it. null for a public image."
  type        = object({ id = string, login_server = string })
  default     = null
}

variable "data_dir" {
  description = "STINT_DATA: the data directory inside the container; empty for the image's (/var/lib/stint)."
  type        = string
  default     = ""
}

# The queue and the worker.

variable "max_delivery_count" {
  description = "Deliveries of a message before Service Bus dead-letters it (transient failures, crashes); the worker dead-letters permanent failures itself."
  type        = number
  default     = 10
  validation {
    condition     = var.max_delivery_count >= 5 && var.max_delivery_count <= 2000
    error_message = "max_delivery_count must be 5 to 2000: fewer would dead-letter an event that a few Graph throttling waits delayed."
  }
}

variable "lock_duration_seconds" {
  description = "The queue's lock duration and the worker's --lease, in seconds: how long a message in hand is hidden from other workers, and how long a crashed worker's contractor stays held. Keep it longer than a message's handling."
  type        = number
  default     = 60
  validation {
    condition     = var.lock_duration_seconds >= 5 && var.lock_duration_seconds <= 300 && floor(var.lock_duration_seconds) == var.lock_duration_seconds
    error_message = "lock_duration_seconds must be a whole number from 5 (stint's shortest --lease) to 300 (Service Bus's longest lock, PT5M)."
  }
}

variable "duplicate_detection_window" {
  description = "How long Service Bus remembers a message id to drop a duplicate (an HR system's retried webhook call), ISO 8601: PT10M, PT1H, P1D (at most P7D)."
  type        = string
  default     = "PT1H"
}

variable "message_ttl" {
  description = "How long an event may wait in the queue before it moves to the dead letters, ISO 8601 (P14D)."
  type        = string
  default     = "P14D"
}

variable "worker_sessions" {
  description = "Sessions (contractors) one worker replica handles at once (--workers), and the messages waiting per replica KEDA aims for."
  type        = number
  default     = 4
  validation {
    condition     = var.worker_sessions >= 1 && var.worker_sessions <= 64
    error_message = "worker_sessions must be 1 to 64 (stint serve's --workers bounds)."
  }
}

variable "worker_max_replicas" {
  description = "Most worker replicas KEDA starts."
  type        = number
  default     = 5
}

variable "webhook_max_replicas" {
  description = "Most webhook replicas."
  type        = number
  default     = 3
}

# The jobs.

variable "tick_timeout_seconds" {
  description = "The tick job's replica timeout, in seconds."
  type        = number
  default     = 300
  validation {
    condition     = var.tick_timeout_seconds >= 60
    error_message = "tick_timeout_seconds must be at least 60: a tick may take a minute."
  }
}

variable "reconcile_timeout_seconds" {
  description = "The reconcile job's replica timeout, in seconds."
  type        = number
  default     = 900
  validation {
    condition     = var.reconcile_timeout_seconds >= 900
    error_message = "reconcile_timeout_seconds must be at least 900: the reconcile may take 15 minutes on a large tenant."
  }
}

# The ledger.

variable "postgres_version" {
  description = "The PostgreSQL major version of the ledger's server."
  type        = string
  default     = "16"
}

variable "postgres_sku" {
  description = "The server's SKU, tier_family_size (B_Standard_B1ms is enough for stint; GP_Standard_D2ds_v5 for more)."
  type        = string
  default     = "B_Standard_B1ms"
}

variable "postgres_storage_mb" {
  description = "The server's storage, in MB (32768 is the smallest)."
  type        = number
  default     = 32768
}

variable "postgres_backup_retention_days" {
  description = "Days of point-in-time restore (7 to 35)."
  type        = number
  default     = 14
}

# The webhook secret.

variable "webhook_secret" {
  description = "STINT_WEBHOOK_SECRET's value, written to Key Vault: Standard Webhooks secret(s), whsec_<base64>, several separated by spaces to rotate. Ephemeral: give it on every plan and apply (TF_VAR_webhook_secret); it is kept in neither the state nor a saved plan."
  type        = string
  sensitive   = true
  ephemeral   = true
  validation {
    condition     = alltrue([for s in split(" ", var.webhook_secret) : can(regex("^whsec_[A-Za-z0-9+/]+=*$", s))])
    error_message = "webhook_secret must be one or more whsec_<base64> secrets separated by single spaces, e.g. whsec_$(head -c 32 /dev/urandom | base64)."
  }
}

variable "webhook_secret_version" {
  description = "Raise this number to write webhook_secret to Key Vault again (a rotation); Terraform cannot see a change in an ephemeral value."
  type        = number
  default     = 1
}

variable "key_vault_soft_delete_days" {
  description = "Days a deleted vault or secret can be recovered (7 to 90). With purge protection on, a deleted vault's name stays taken for that long."
  type        = number
  default     = 90
}

# Entra and Microsoft Graph (no secret: STINT_AZURE_FEDERATION=managed-identity).

variable "azure_tenant_id" {
  description = "AZURE_TENANT_ID: the Entra tenant (directory) id."
  type        = string
}

variable "azure_client_id" {
  description = "AZURE_CLIENT_ID: the runtime app's application (client) id. Its federated identity credential names the runtime identity (output runtime_principal_id; the entra module's managed_identity_principal_id)."
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

# The reconcile and Conditional Access (the jobs).

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
  description = "STINT_POLICIES: a directory of Conditional Access policy files inside the image; empty for the built-in baseline."
  type        = string
  default     = ""
}

variable "policy_drift" {
  description = "STINT_POLICY_DRIFT: report a stint policy changed by hand, or repair it as well; empty for stint's default (report). The drift check needs the runtime app's Policy.Read.All (the entra module's policy_drift_check)."
  type        = string
  default     = ""
  validation {
    condition     = contains(["", "report", "repair"], var.policy_drift)
    error_message = "policy_drift must be \"report\", \"repair\" or empty."
  }
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
