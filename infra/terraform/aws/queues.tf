# The event queue between the webhook and the worker, and its dead letters.
# FIFO: one contractor's events (one message group) are applied in order.

resource "aws_sqs_queue" "events" {
  name       = "${var.name_prefix}-events.fifo"
  fifo_queue = true
  # The webhook sets MessageDeduplicationId from the event itself.
  content_based_deduplication = false
  # Six times the worker's timeout, as Lambda advises for an SQS event
  # source: a message in a batch being retried is not redelivered while
  # the invocation that holds it may still run.
  visibility_timeout_seconds = 6 * var.worker_timeout
  message_retention_seconds  = 1209600 # 14 days
  sqs_managed_sse_enabled    = true
  # A message that fails 5 times (transient failures, a crash) goes to the
  # dead letters; the worker sends permanent failures there itself.
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = 5
  })
  tags = var.tags
}

resource "aws_sqs_queue" "dlq" {
  name                        = "${var.name_prefix}-dlq.fifo"
  fifo_queue                  = true
  content_based_deduplication = false
  message_retention_seconds   = 1209600 # 14 days: time to fix and replay
  sqs_managed_sse_enabled     = true
  tags                        = var.tags
}

resource "aws_lambda_event_source_mapping" "worker" {
  event_source_arn        = aws_sqs_queue.events.arn
  function_name           = aws_lambda_function.worker.arn
  batch_size              = var.worker_batch_size
  function_response_types = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = var.worker_max_concurrency
  }
  # Lambda checks the role can read the queue when the mapping is made.
  depends_on = [aws_iam_role_policy.worker]
}
