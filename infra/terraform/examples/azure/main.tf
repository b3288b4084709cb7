# A runnable deployment of stint on Azure: the module, from the image you
# built and pushed (infra/README.md, "Terraform (Azure)").
#
#   az login
#   export TF_VAR_webhook_secret="whsec_..."   # on every plan and apply
#   terraform init
#   terraform plan -var-file=stint.tfvars -out=stint.plan
#   terraform apply stint.plan

terraform {
  required_version = ">= 1.11"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.69, < 5.0"
    }
  }
}

provider "azurerm" {
  subscription_id = var.subscription_id
  features {}
}

module "stint" {
  source = "../../azure"

  location               = var.location
  image                  = var.image
  registry               = var.registry
  azure_tenant_id        = var.azure_tenant_id
  azure_client_id        = var.azure_client_id
  groups                 = var.groups
  break_glass            = var.break_glass
  webhook_secret         = var.webhook_secret
  webhook_secret_version = var.webhook_secret_version
}
