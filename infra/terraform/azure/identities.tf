# The managed identities and their roles, each on the one resource it
# needs (the queue, the secret, the registry), never on the namespace, the
# vault, the resource group or the subscription. infra/terraform's test
# lists every role assignment and its scope.

# The webhook: sends events to the queue and reads its signing secret. The
# Entra app has no federated credential for it: no Graph.
resource "azurerm_user_assigned_identity" "webhook" {
  name                = "${var.name_prefix}-webhook"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

# The worker and the jobs: Graph (through the Entra app's federated
# credential: the entra module's managed_identity_principal_id is this
# identity's principal id), the queue, and the ledger (its PostgreSQL
# Entra administrator).
resource "azurerm_user_assigned_identity" "runtime" {
  name                = "${var.name_prefix}-runtime"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

# KEDA's azure-servicebus scaler, for the worker's scale rule only. It
# reads the queue's message count through Service Bus's management
# operations, which need the Manage right: Azure Service Bus Data Owner
# is the only built-in role that has it. A separate identity keeps that
# right off the runtime identity (and so off the jobs); the worker app
# carries it because a scale rule's identity must be assigned to its app.
resource "azurerm_user_assigned_identity" "scaler" {
  name                = "${var.name_prefix}-scaler"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

# Pulls the image from a private Azure Container Registry (var.registry).
resource "azurerm_user_assigned_identity" "pull" {
  count               = var.registry == null ? 0 : 1
  name                = "${var.name_prefix}-pull"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

resource "azurerm_role_assignment" "webhook_sender" {
  scope                = azurerm_servicebus_queue.events.id
  role_definition_name = "Azure Service Bus Data Sender"
  principal_id         = azurerm_user_assigned_identity.webhook.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "webhook_secret" {
  scope                = azurerm_key_vault_secret.webhook.resource_versionless_id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.webhook.principal_id
  principal_type       = "ServicePrincipal"
}

# The worker takes events; it also opens a sender on the queue
# (servicebus.New), and `stint dlq replay`, run as this identity, sends
# dead letters back.
resource "azurerm_role_assignment" "runtime_receiver" {
  scope                = azurerm_servicebus_queue.events.id
  role_definition_name = "Azure Service Bus Data Receiver"
  principal_id         = azurerm_user_assigned_identity.runtime.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "runtime_sender" {
  scope                = azurerm_servicebus_queue.events.id
  role_definition_name = "Azure Service Bus Data Sender"
  principal_id         = azurerm_user_assigned_identity.runtime.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "scaler" {
  scope                = azurerm_servicebus_queue.events.id
  role_definition_name = "Azure Service Bus Data Owner"
  principal_id         = azurerm_user_assigned_identity.scaler.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "pull" {
  count                = var.registry == null ? 0 : 1
  scope                = var.registry.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.pull[0].principal_id
  principal_type       = "ServicePrincipal"
}

# Whoever runs Terraform writes the webhook secret into the vault (its
# RBAC authorization gives an Owner of the subscription no data access):
# Secrets Officer on this vault only. A new role can take a few minutes to
# apply; an apply that fails with 403 on the secret succeeds when run again.
resource "azurerm_role_assignment" "deployer_secrets" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}
