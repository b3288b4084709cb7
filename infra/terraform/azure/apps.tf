# The webhook and the worker: `stint serve --only ROLE` from the image.
# Each app's environment is its role's settings with an empty value left
# out (stint's default applies); STINT_WEBHOOK_SECRET alone comes from a
# secret, and that secret is a reference to Key Vault, read by the
# webhook's identity.

resource "azurerm_container_app" "webhook" {
  name                         = "${var.name_prefix}-webhook"
  container_app_environment_id = azurerm_container_app_environment.this.id
  resource_group_name          = azurerm_resource_group.this.name
  revision_mode                = "Single"

  identity {
    type         = "UserAssigned"
    identity_ids = concat([azurerm_user_assigned_identity.webhook.id], local.pull_identity_ids)
  }

  dynamic "registry" {
    for_each = var.registry == null ? [] : [var.registry.login_server]
    content {
      server   = registry.value
      identity = azurerm_user_assigned_identity.pull[0].id
    }
  }

  secret {
    name                = "webhook-secret"
    identity            = azurerm_user_assigned_identity.webhook.id
    key_vault_secret_id = azurerm_key_vault_secret.webhook.versionless_id
  }

  # HTTPS from anywhere: the Standard Webhooks signature is the
  # authentication (as the AWS Function URL's auth NONE).
  ingress {
    external_enabled           = true
    target_port                = 8080
    transport                  = "auto"
    allow_insecure_connections = false
    traffic_weight {
      latest_revision = true
      percentage      = 100
    }
  }

  template {
    min_replicas = 1
    max_replicas = var.webhook_max_replicas
    container {
      name   = "webhook"
      image  = var.image
      cpu    = 0.25
      memory = "0.5Gi"
      # The image's entrypoint is stint.
      args = ["serve", "--only", "webhook", "--addr", ":8080"]
      dynamic "env" {
        for_each = { for name, value in local.webhook_env : name => value if value != "" }
        content {
          name  = env.key
          value = env.value
        }
      }
      env {
        name        = "STINT_WEBHOOK_SECRET"
        secret_name = "webhook-secret"
      }
      liveness_probe {
        transport = "HTTP"
        port      = 8080
        path      = "/healthz"
      }
      readiness_probe {
        transport = "HTTP"
        port      = 8080
        path      = "/readyz"
      }
    }
  }

  tags = var.tags
  # The Key Vault reference is resolved, and the queue reached, as the
  # webhook identity: its roles first.
  depends_on = [azurerm_role_assignment.webhook_secret, azurerm_role_assignment.webhook_sender, azurerm_role_assignment.pull]
}

resource "azurerm_container_app" "worker" {
  name                         = "${var.name_prefix}-worker"
  container_app_environment_id = azurerm_container_app_environment.this.id
  resource_group_name          = azurerm_resource_group.this.name
  revision_mode                = "Single"

  identity {
    type = "UserAssigned"
    identity_ids = concat([azurerm_user_assigned_identity.runtime.id, azurerm_user_assigned_identity.scaler.id],
    local.pull_identity_ids)
  }

  dynamic "registry" {
    for_each = var.registry == null ? [] : [var.registry.login_server]
    content {
      server   = registry.value
      identity = azurerm_user_assigned_identity.pull[0].id
    }
  }

  # No ingress: the worker takes its work from the queue. It still listens
  # on :8080 for the probes.
  template {
    min_replicas = 0
    max_replicas = var.worker_max_replicas
    container {
      name   = "worker"
      image  = var.image
      cpu    = 0.5
      memory = "1Gi"
      # --lease is the queue's lock duration: how long a crashed worker's
      # contractor stays held.
      args = ["serve", "--only", "worker", "--addr", ":8080",
      "--lease", "${var.lock_duration_seconds}s", "--workers", format("%d", var.worker_sessions)]
      dynamic "env" {
        for_each = { for name, value in local.worker_env : name => value if value != "" }
        content {
          name  = env.key
          value = env.value
        }
      }
      liveness_probe {
        transport = "HTTP"
        port      = 8080
        path      = "/healthz"
      }
      readiness_probe {
        transport = "HTTP"
        port      = 8080
        path      = "/readyz"
      }
    }

    # KEDA: a replica for every worker_sessions messages waiting, none
    # when the queue is empty. Authenticated by the scaler identity.
    custom_scale_rule {
      name             = "events"
      custom_rule_type = "azure-servicebus"
      metadata = {
        namespace    = azurerm_servicebus_namespace.this.name
        queueName    = azurerm_servicebus_queue.events.name
        messageCount = format("%d", var.worker_sessions)
      }
      identity_id = azurerm_user_assigned_identity.scaler.id
    }
  }

  tags = var.tags
  depends_on = [azurerm_role_assignment.runtime_receiver, azurerm_role_assignment.runtime_sender, azurerm_role_assignment.scaler,
  azurerm_postgresql_flexible_server_active_directory_administrator.runtime, azurerm_role_assignment.pull]
}
