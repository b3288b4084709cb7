terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.36 brings aws_iam_outbound_web_identity_federation and the
      # function URL's lambda:InvokeFunction permission.
      version = ">= 6.36"
    }
  }
}
