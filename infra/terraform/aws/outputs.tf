output "webhook_url" {
  description = "The webhook's Function URL: where the HR system posts its signed events."
  value       = aws_lambda_function_url.webhook.function_url
}

output "webhook_role_arn" {
  description = "The webhook function's IAM role."
  value       = aws_iam_role.webhook.arn
}

output "worker_role_arn" {
  description = "The worker function's IAM role: a subject of the Entra app's federated credentials."
  value       = aws_iam_role.worker.arn
}

output "sweep_role_arn" {
  description = "The sweep function's IAM role: a subject of the Entra app's federated credentials."
  value       = aws_iam_role.sweep.arn
}

output "federated_credential_subjects" {
  description = "The roles that get Graph tokens: one federated identity credential each on the Entra app (issuer: the account's AWS issuer URL; audience api://AzureADTokenExchange)."
  value       = [aws_iam_role.worker.arn, aws_iam_role.sweep.arn]
}

output "aws_issuer_url" {
  description = "The account's AWS issuer URL (the federated credentials' issuer) when this module enables outbound identity federation; otherwise null: read it with `aws iam get-outbound-web-identity-federation-info`."
  value       = one(aws_iam_outbound_web_identity_federation.this[*].issuer_identifier)
}

output "events_queue_url" {
  description = "The SQS FIFO queue events go through (STINT_QUEUE_URL)."
  value       = aws_sqs_queue.events.url
}

output "dead_letter_queue_url" {
  description = "The dead-letter queue (STINT_DLQ_URL): events that can never apply, or failed 5 times."
  value       = aws_sqs_queue.dlq.url
}

output "ledger_table" {
  description = "The DynamoDB ledger table; STINT_STORE=dynamodb://<this> for `stint` commands run against it."
  value       = aws_dynamodb_table.ledger.name
}
