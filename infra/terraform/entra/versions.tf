terraform {
  required_version = ">= 1.5"
  required_providers {
    azuread = {
      source = "hashicorp/azuread"
      # 3.0 names an application's id client_id and takes application_id
      # as the application's resource id in its federated credentials.
      version = ">= 3.0"
    }
  }
}
