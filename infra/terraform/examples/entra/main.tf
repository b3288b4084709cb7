# A runnable Entra setup for stint: the runtime app (consented), the access
# groups, the break-glass group, and, once the AWS deployment exists, the
# federated credentials of its roles. Run it as a Privileged Role
# Administrator (or Global Administrator): it grants application
# permissions and creates a role-assignable group.
#
#   az login --tenant <tenant id>
#   terraform init
#   terraform plan -var-file=stint.tfvars -out=stint.plan
#   terraform apply stint.plan

terraform {
  required_version = ">= 1.5"
  required_providers {
    azuread = {
      source  = "hashicorp/azuread"
      version = ">= 3.0"
    }
  }
}

provider "azuread" {
  tenant_id = var.tenant_id
}

module "stint" {
  source = "../../entra"

  access_groups                 = var.access_groups
  break_glass_members           = var.break_glass_members
  operator_app                  = var.operator_app
  policy_drift_check            = var.policy_drift_check
  signin_activity               = var.signin_activity
  aws_federated_credentials     = [for role in var.aws_role_arns : { issuer = var.aws_issuer_url, subject = role }]
  managed_identity_principal_id = var.managed_identity_principal_id
}
