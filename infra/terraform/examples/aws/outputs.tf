output "webhook_url" {
  description = "Where the HR system posts its signed events."
  value       = module.stint.webhook_url
}

output "federated_credential_subjects" {
  description = "The role ARNs to register as federated credentials on the Entra app."
  value       = module.stint.federated_credential_subjects
}

output "aws_issuer_url" {
  description = "The account's AWS issuer URL, when this deployment enabled the federation."
  value       = module.stint.aws_issuer_url
}

output "dead_letter_queue_url" {
  description = "The dead-letter queue (for `aws sqs receive-message`)."
  value       = module.stint.dead_letter_queue_url
}

output "ledger_table" {
  description = "The ledger table."
  value       = module.stint.ledger_table
}
