terraform {
  # 1.11: write-only arguments (the webhook secret's value_wo) and
  # ephemeral input variables, so that the secret never enters the state
  # or a saved plan.
  required_version = ">= 1.11"
  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 4.69 brings custom_scale_rule.identity_id (KEDA authenticated by a
      # managed identity, not a connection string); 4.23 the secret's
      # value_wo.
      version = ">= 4.69, < 5.0"
    }
  }
}
