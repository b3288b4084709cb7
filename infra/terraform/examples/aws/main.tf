# A runnable deployment of stint on AWS: the module, an SNS topic for its
# alarms (with an optional email subscription), from `make package`'s zips.
#
#   terraform init
#   terraform plan -var-file=stint.tfvars -out=stint.plan
#   terraform apply stint.plan

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.36"
    }
  }
}

provider "aws" {
  region = var.region
}

resource "aws_sns_topic" "alarms" {
  name = "stint-alarms"
}

resource "aws_sns_topic_subscription" "alarms_email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

module "stint" {
  source = "../../aws"

  webhook_zip = "${var.bin_dir}/webhook.zip"
  worker_zip  = "${var.bin_dir}/worker.zip"
  sweep_zip   = "${var.bin_dir}/sweep.zip"

  azure_tenant_id                     = var.azure_tenant_id
  azure_client_id                     = var.azure_client_id
  manage_outbound_identity_federation = var.manage_outbound_identity_federation
  groups                              = var.groups
  break_glass                         = var.break_glass
  webhook_secret_arn                  = var.webhook_secret_arn
  alarm_topic_arn                     = aws_sns_topic.alarms.arn
}
