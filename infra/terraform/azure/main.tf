# stint on Azure: the webhook (a Container App with HTTPS ingress) sends
# each event to a Service Bus session queue; the worker (a Container App
# scaled by KEDA on that queue, down to zero) applies it to the PostgreSQL
# ledger and to Entra; the tick and the reconcile run as scheduled
# Container Apps jobs. Every one of them is `stint` from the container
# image (infra/container/Dockerfile) in one role.
#
# No secret to steal: the processes reach Service Bus, PostgreSQL and Key
# Vault as their user-assigned managed identities, and Graph through the
# Entra app's federated credential, which trusts the runtime identity
# (STINT_AZURE_FEDERATION=managed-identity). The only secret, the webhook's
# signing key, stays in Key Vault and reaches the webhook as a Key
# Vault-referenced Container Apps secret.
#
# The environment of each app and job is exactly what `stint serve --only
# ROLE` (or `stint sweep`) reads, pkg/config's ServedBy, less the
# credential settings the managed identity replaces; infra/terraform's
# test checks it. An empty value is not given, so stint's own default
# applies.

locals {
  # Globally unique names (Service Bus, PostgreSQL, Key Vault) get a
  # suffix derived from the subscription and the prefix: stable across
  # applies, different between subscriptions.
  suffix = substr(sha1("${data.azurerm_client_config.current.subscription_id}/${var.name_prefix}"), 0, 6)

  queue_url = "servicebus://${azurerm_servicebus_namespace.this.name}.servicebus.windows.net/${azurerm_servicebus_queue.events.name}"

  # The ledger: the runtime identity signs in to PostgreSQL as itself, with
  # an Entra token as its password (pkg/ledger/postgres, azure=entra).
  store = "postgres://${azurerm_user_assigned_identity.runtime.name}@${azurerm_postgresql_flexible_server.ledger.fqdn}/${azurerm_postgresql_flexible_server_database.stint.name}?azure=entra&sslmode=verify-full"

  groups = join(",", [for key, id in var.groups : "${key}=${id}"])

  # Who every process is: the tenant, the Entra app, and the federation
  # through the host's managed identity.
  identity_env = {
    AZURE_TENANT_ID        = var.azure_tenant_id
    AZURE_CLIENT_ID        = var.azure_client_id
    STINT_AZURE_FEDERATION = "managed-identity"
    AZURE_AUTHORITY_HOST   = var.azure_authority_host
    STINT_DATA             = var.data_dir
  }

  # The webhook runs as the webhook identity, which the Entra app does not
  # trust: it sends to the queue and reads its secret, and can get no
  # Graph token.
  webhook_env = merge(local.identity_env, {
    STINT_MANAGED_IDENTITY_CLIENT_ID = azurerm_user_assigned_identity.webhook.client_id
    STINT_GROUPS                     = local.groups
    STINT_QUEUE_URL                  = local.queue_url
  })

  # The worker and the sweeps run as the runtime identity: Graph through
  # the app's federated credential, the queue, the ledger.
  runtime_env = merge(local.identity_env, {
    STINT_MANAGED_IDENTITY_CLIENT_ID = azurerm_user_assigned_identity.runtime.client_id
    STINT_GRAPH_ENDPOINT             = var.graph_endpoint
    STINT_GROUPS                     = local.groups
    STINT_DEFAULT_ACCESS             = join(",", var.default_access)
    STINT_STORE                      = local.store
    STINT_SEND_INVITATION            = tostring(var.send_invitation)
    STINT_INVITE_REDIRECT_URL        = var.invite_redirect_url
  })

  worker_env = merge(local.runtime_env, {
    STINT_QUEUE_URL = local.queue_url
  })

  # The jobs take no queue: the sweep reads the ledger and Graph only.
  sweep_env = merge(local.runtime_env, {
    STINT_GHOST_GRACE      = var.ghost_grace
    STINT_GHOST_ACTION     = var.ghost_action
    STINT_UNREDEEMED_AFTER = var.unredeemed_after
    STINT_BREAK_GLASS      = join(",", var.break_glass)
    STINT_ALLOWED_APPS     = join(",", var.allowed_apps)
    STINT_SIGNIN_FREQUENCY = var.signin_frequency
    STINT_AUTH_STRENGTH    = var.auth_strength
    STINT_POLICIES         = var.policies_dir
    STINT_POLICY_DRIFT     = var.policy_drift
    STINT_DORMANT_AFTER    = var.dormant_after
    STINT_DORMANT_ACTION   = var.dormant_action
    STINT_VERIFY_WINDOW    = var.verify_window
    STINT_REMIND_BEFORE    = var.remind_before
    STINT_NOTIFY_URL       = var.notify_url
    STINT_NOTIFY_FORMAT    = var.notify_format
  })

  # The image registry, when the image is private: pulled as the pull
  # identity, which may do nothing else.
  pull_identity_ids = [for p in azurerm_user_assigned_identity.pull : p.id]
}

data "azurerm_client_config" "current" {}

resource "azurerm_resource_group" "this" {
  name     = "${var.name_prefix}-rg"
  location = var.location
  tags     = var.tags
}

resource "azurerm_log_analytics_workspace" "this" {
  name                = "${var.name_prefix}-logs"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = var.tags
}

resource "azurerm_container_app_environment" "this" {
  name                       = "${var.name_prefix}-env"
  location                   = azurerm_resource_group.this.location
  resource_group_name        = azurerm_resource_group.this.name
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id
  logs_destination           = "log-analytics"
  tags                       = var.tags
}
