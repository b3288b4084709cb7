# The event queue between the webhook and the worker: one session per
# contractor (SessionId = the contractor's key), so that one contractor's
# events apply in order; MessageId = the event's id, so that a redelivered
# webhook call is dropped by duplicate detection.

resource "azurerm_servicebus_namespace" "this" {
  name                = "${var.name_prefix}-${local.suffix}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  # Sessions and duplicate detection need Standard (Basic has neither).
  sku = "Standard"
  # No SAS keys: no connection string exists to steal. Every client,
  # KEDA included, authenticates with a managed identity.
  local_auth_enabled  = false
  minimum_tls_version = "1.2"
  tags                = var.tags
}

resource "azurerm_servicebus_queue" "events" {
  name                                    = "stint-events"
  namespace_id                            = azurerm_servicebus_namespace.this.id
  requires_session                        = true
  requires_duplicate_detection            = true
  duplicate_detection_history_time_window = var.duplicate_detection_window
  max_delivery_count                      = var.max_delivery_count
  # The worker's --lease (apps.tf) is the same time: a crashed worker's
  # contractor is taken over once its lock ends. Written as Service Bus
  # returns it (PT1M, PT1M30S, PT45S) so that plans show no change.
  lock_duration = join("", ["PT",
    floor(var.lock_duration_seconds / 60) > 0 ? "${floor(var.lock_duration_seconds / 60)}M" : "",
  var.lock_duration_seconds % 60 > 0 ? "${var.lock_duration_seconds % 60}S" : ""])
  # An event no worker took in this time is kept in the dead letters, not
  # dropped: `stint dlq list` shows it and `stint dlq replay` sends it again.
  default_message_ttl                  = var.message_ttl
  dead_lettering_on_message_expiration = true
}
