# The runtime app: what the webhook, the worker and the sweep act as. No
# password or certificate: its credentials are the federated ones below.
resource "azuread_application" "runtime" {
  display_name     = var.runtime_app_name
  sign_in_audience = "AzureADMyOrg"
  owners           = local.owners

  required_resource_access {
    resource_app_id = local.graph_app_id
    dynamic "resource_access" {
      for_each = local.runtime_app_roles
      content {
        id   = resource_access.value
        type = "Role"
      }
    }
  }
}

resource "azuread_service_principal" "runtime" {
  client_id = azuread_application.runtime.client_id
  owners    = local.owners
}

# Admin consent: each requested application permission granted to the
# runtime app's service principal on Graph's.
resource "azuread_app_role_assignment" "runtime" {
  for_each            = local.runtime_app_roles
  app_role_id         = each.value
  principal_object_id = azuread_service_principal.runtime.object_id
  resource_object_id  = data.azuread_service_principal.graph.object_id
}

# The operator app (when var.operator_app): `stint policy apply` and drift
# repair write Conditional Access, which the runtime is never given. It has
# no credential here: add the operator's own (a certificate, or a federated
# credential for their CI).
resource "azuread_application" "operator" {
  count            = var.operator_app ? 1 : 0
  display_name     = var.operator_app_name
  sign_in_audience = "AzureADMyOrg"
  owners           = local.owners

  required_resource_access {
    resource_app_id = local.graph_app_id
    dynamic "resource_access" {
      for_each = local.operator_app_roles
      content {
        id   = resource_access.value
        type = "Role"
      }
    }
  }
}

resource "azuread_service_principal" "operator" {
  count     = var.operator_app ? 1 : 0
  client_id = azuread_application.operator[0].client_id
  owners    = local.owners
}

resource "azuread_app_role_assignment" "operator" {
  for_each            = var.operator_app ? local.operator_app_roles : {}
  app_role_id         = each.value
  principal_object_id = azuread_service_principal.operator[0].object_id
  resource_object_id  = data.azuread_service_principal.graph.object_id
}
