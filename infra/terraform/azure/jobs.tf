# The tick (every minute) and the reconcile (every hour): `stint sweep`
# as scheduled Container Apps jobs, as the runtime identity. A run that
# fails is not retried: the next tick comes in a minute, the next
# reconcile in an hour (it resumes where the last one stopped). Runs of
# one mode that overlap are harmless: each holds a lease in the ledger.

resource "azurerm_container_app_job" "tick" {
  name                         = "${var.name_prefix}-tick"
  location                     = azurerm_resource_group.this.location
  resource_group_name          = azurerm_resource_group.this.name
  container_app_environment_id = azurerm_container_app_environment.this.id
  replica_timeout_in_seconds   = var.tick_timeout_seconds
  replica_retry_limit          = 0

  schedule_trigger_config {
    cron_expression          = "* * * * *"
    parallelism              = 1
    replica_completion_count = 1
  }

  identity {
    type         = "UserAssigned"
    identity_ids = concat([azurerm_user_assigned_identity.runtime.id], local.pull_identity_ids)
  }

  dynamic "registry" {
    for_each = var.registry == null ? [] : [var.registry.login_server]
    content {
      server   = registry.value
      identity = azurerm_user_assigned_identity.pull[0].id
    }
  }

  template {
    container {
      name   = "tick"
      image  = var.image
      cpu    = 0.25
      memory = "0.5Gi"
      args   = ["sweep", "tick"]
      dynamic "env" {
        for_each = { for name, value in local.sweep_env : name => value if value != "" }
        content {
          name  = env.key
          value = env.value
        }
      }
    }
  }

  tags       = var.tags
  depends_on = [azurerm_postgresql_flexible_server_active_directory_administrator.runtime, azurerm_role_assignment.pull]
}

resource "azurerm_container_app_job" "reconcile" {
  name                         = "${var.name_prefix}-reconcile"
  location                     = azurerm_resource_group.this.location
  resource_group_name          = azurerm_resource_group.this.name
  container_app_environment_id = azurerm_container_app_environment.this.id
  replica_timeout_in_seconds   = var.reconcile_timeout_seconds
  replica_retry_limit          = 0

  schedule_trigger_config {
    cron_expression          = "0 * * * *"
    parallelism              = 1
    replica_completion_count = 1
  }

  identity {
    type         = "UserAssigned"
    identity_ids = concat([azurerm_user_assigned_identity.runtime.id], local.pull_identity_ids)
  }

  dynamic "registry" {
    for_each = var.registry == null ? [] : [var.registry.login_server]
    content {
      server   = registry.value
      identity = azurerm_user_assigned_identity.pull[0].id
    }
  }

  template {
    container {
      name   = "reconcile"
      image  = var.image
      cpu    = 0.5
      memory = "1Gi"
      args   = ["sweep", "reconcile"]
      dynamic "env" {
        for_each = { for name, value in local.sweep_env : name => value if value != "" }
        content {
          name  = env.key
          value = env.value
        }
      }
    }
  }

  tags       = var.tags
  depends_on = [azurerm_postgresql_flexible_server_active_directory_administrator.runtime, azurerm_role_assignment.pull]
}
