# The ledger: Azure Database for PostgreSQL (flexible server), Entra
# authentication only. The runtime identity is the server's Entra
# administrator: stint migrates its schema when it opens the ledger
# (pkg/ledger/postgres), which needs DDL on the database, and an Entra
# principal can be given a role on the server only by an Entra
# administrator signing in to it. Make a narrower role for it by hand (and
# another administrator) if your policy wants the migrations run apart.

resource "azurerm_postgresql_flexible_server" "ledger" {
  name                          = "${var.name_prefix}-${local.suffix}"
  location                      = azurerm_resource_group.this.location
  resource_group_name           = azurerm_resource_group.this.name
  version                       = var.postgres_version
  sku_name                      = var.postgres_sku
  storage_mb                    = var.postgres_storage_mb
  backup_retention_days         = var.postgres_backup_retention_days
  public_network_access_enabled = true
  authentication {
    active_directory_auth_enabled = true
    password_auth_enabled         = false
    tenant_id                     = var.azure_tenant_id
  }
  tags = var.tags
  lifecycle {
    # Azure picks the zone when none is given; keep it.
    ignore_changes = [zone]
  }
}

resource "azurerm_postgresql_flexible_server_database" "stint" {
  name      = "stint"
  server_id = azurerm_postgresql_flexible_server.ledger.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

resource "azurerm_postgresql_flexible_server_active_directory_administrator" "runtime" {
  server_name         = azurerm_postgresql_flexible_server.ledger.name
  resource_group_name = azurerm_resource_group.this.name
  tenant_id           = var.azure_tenant_id
  object_id           = azurerm_user_assigned_identity.runtime.principal_id
  principal_name      = azurerm_user_assigned_identity.runtime.name
  principal_type      = "ServicePrincipal"
}

# TLS on every connection (the default, kept explicit): the password is
# an Entra token.
resource "azurerm_postgresql_flexible_server_configuration" "require_secure_transport" {
  name      = "require_secure_transport"
  server_id = azurerm_postgresql_flexible_server.ledger.id
  value     = "on"
}

# Container Apps on the Consumption plan have no fixed outbound address:
# allow connections from Azure's services (the 0.0.0.0 rule). With
# password authentication off, only an Entra principal the server knows
# can sign in. Put the environment and the server in a virtual network
# instead for a private endpoint.
resource "azurerm_postgresql_flexible_server_firewall_rule" "azure_services" {
  name             = "allow-azure-services"
  server_id        = azurerm_postgresql_flexible_server.ledger.id
  start_ip_address = "0.0.0.0"
  end_ip_address   = "0.0.0.0"
}
