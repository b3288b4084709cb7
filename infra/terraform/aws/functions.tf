# The three functions, from `make package` (bootstrap for provided.al2023,
# linux/arm64), and their log groups.

resource "aws_cloudwatch_log_group" "lambda" {
  for_each          = toset(local.functions)
  name              = "/aws/lambda/${var.name_prefix}-${each.key}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "webhook" {
  function_name    = "${var.name_prefix}-webhook"
  role             = aws_iam_role.webhook.arn
  filename         = var.webhook_zip
  source_code_hash = filebase64sha256(var.webhook_zip)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  memory_size      = var.memory_size
  timeout          = 10
  environment {
    variables = { for name, value in local.webhook_env : name => value if value != "" }
  }
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambda["webhook"].name
  }
  tags = var.tags
}

# The signature is the authentication: the URL is public.
resource "aws_lambda_function_url" "webhook" {
  function_name      = aws_lambda_function.webhook.function_name
  authorization_type = "NONE"
}

# A public function URL needs lambda:InvokeFunction (for calls through the
# URL only) besides the lambda:InvokeFunctionUrl the URL resource grants.
resource "aws_lambda_permission" "webhook_url" {
  statement_id             = "FunctionURLInvokeAllowPublicAccess"
  action                   = "lambda:InvokeFunction"
  function_name            = aws_lambda_function.webhook.function_name
  principal                = "*"
  invoked_via_function_url = true
}

resource "aws_lambda_function" "worker" {
  function_name    = "${var.name_prefix}-worker"
  role             = aws_iam_role.worker.arn
  filename         = var.worker_zip
  source_code_hash = filebase64sha256(var.worker_zip)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  memory_size      = var.memory_size
  timeout          = var.worker_timeout
  environment {
    variables = { for name, value in local.worker_env : name => value if value != "" }
  }
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambda["worker"].name
  }
  tags = var.tags
}

resource "aws_lambda_function" "sweep" {
  function_name    = "${var.name_prefix}-sweep"
  role             = aws_iam_role.sweep.arn
  filename         = var.sweep_zip
  source_code_hash = filebase64sha256(var.sweep_zip)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  memory_size      = var.memory_size
  timeout          = var.sweep_timeout
  # One tick and one reconcile at a time; each mode holds a lease in the
  # ledger, so a schedule firing while its run goes is a no-op anyway.
  reserved_concurrent_executions = 2
  environment {
    variables = { for name, value in local.sweep_env : name => value if value != "" }
  }
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambda["sweep"].name
  }
  tags = var.tags
}

# The schedules invoke the sweep asynchronously. A failed run is not
# retried: the next tick comes in a minute, the next reconcile in an hour
# (it resumes where the last one stopped). An invocation throttled by the
# reserved concurrency waits up to 5 minutes, then is dropped.
resource "aws_lambda_function_event_invoke_config" "sweep" {
  function_name                = aws_lambda_function.sweep.function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 300
}
