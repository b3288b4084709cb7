# stint on AWS: the webhook (Function URL) feeds an SQS FIFO queue, the
# worker applies its events to the DynamoDB ledger and to Entra, and the
# sweep runs the tick every minute and the reconcile every hour. No client
# secret: the worker and the sweep get their Graph token through their IAM
# role (STS GetWebIdentityToken) and the Entra app's federated credential.
#
# The environment each function gets is exactly the settings that binary
# reads (pkg/config), less the Azure credential settings that
# STINT_AZURE_FEDERATION=aws replaces; infra/terraform's test checks it.
# An empty value is dropped when the function is created, so stint's own
# default applies.

locals {
  functions = ["webhook", "worker", "sweep"]

  # Settings of every binary that calls Graph (the worker and the sweep).
  graph_env = {
    AZURE_TENANT_ID           = var.azure_tenant_id
    AZURE_CLIENT_ID           = var.azure_client_id
    STINT_AZURE_FEDERATION    = "aws"
    AZURE_AUTHORITY_HOST      = var.azure_authority_host
    STINT_GRAPH_ENDPOINT      = var.graph_endpoint
    STINT_GROUPS              = local.groups
    STINT_DEFAULT_ACCESS      = join(",", var.default_access)
    STINT_STORE               = "dynamodb://${aws_dynamodb_table.ledger.name}"
    STINT_SEND_INVITATION     = tostring(var.send_invitation)
    STINT_INVITE_REDIRECT_URL = var.invite_redirect_url
  }

  webhook_env = {
    STINT_GROUPS    = local.groups
    STINT_QUEUE_URL = aws_sqs_queue.events.url
    # The secret itself stays in Secrets Manager: the webhook reads it
    # once at cold start, and it never passes through Terraform's state.
    STINT_WEBHOOK_SECRET_ARN = var.webhook_secret_arn
  }

  worker_env = merge(local.graph_env, {
    STINT_DLQ_URL = aws_sqs_queue.dlq.url
  })

  sweep_env = merge(local.graph_env, {
    STINT_GHOST_GRACE      = var.ghost_grace
    STINT_GHOST_ACTION     = var.ghost_action
    STINT_UNREDEEMED_AFTER = var.unredeemed_after
    STINT_BREAK_GLASS      = join(",", var.break_glass)
    STINT_ALLOWED_APPS     = join(",", var.allowed_apps)
    STINT_SIGNIN_FREQUENCY = var.signin_frequency
    STINT_AUTH_STRENGTH    = var.auth_strength
    STINT_POLICIES         = var.policies_dir
    STINT_POLICY_DRIFT     = var.policy_drift
    STINT_DORMANT_AFTER    = var.dormant_after
    STINT_DORMANT_ACTION   = var.dormant_action
    STINT_VERIFY_WINDOW    = var.verify_window
    STINT_REMIND_BEFORE    = var.remind_before
    STINT_NOTIFY_URL       = var.notify_url
    STINT_NOTIFY_FORMAT    = var.notify_format
  })

  groups = join(",", [for key, id in var.groups : "${key}=${id}"])
}

data "aws_caller_identity" "current" {}

# IAM outbound identity federation: lets the roles call STS
# GetWebIdentityToken, and gives the account the issuer URL the Entra app's
# federated credentials trust. One per account (see the variable).
resource "aws_iam_outbound_web_identity_federation" "this" {
  count = var.manage_outbound_identity_federation ? 1 : 0
}
