# Alarms to var.alarm_topic_arn: what an operator must look at.

# Something can never apply: see the dead letters' stint-reason attribute.
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name_prefix}-dead-letters"
  alarm_description   = "Events wait in ${aws_sqs_queue.dlq.name}: they can never apply (each message's stint-reason attribute says why) or failed 5 times."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

# The worker failed an invocation (a crash, a timeout, a cold start that
# refused its configuration: its log names the variable).
resource "aws_cloudwatch_metric_alarm" "worker_errors" {
  alarm_name          = "${var.name_prefix}-worker-errors"
  alarm_description   = "The worker function failed; see its log group ${aws_cloudwatch_log_group.lambda["worker"].name}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.worker.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

# No sweep run ended well for 5 minutes: ends are late. The tick runs every
# minute, so a minute without a successful sweep invocation is a minute
# without a tick (the hourly reconcile can cover one minute of it, not 5).
resource "aws_cloudwatch_metric_alarm" "tick_missing" {
  alarm_name          = "${var.name_prefix}-tick-missing"
  alarm_description   = "The tick has not run successfully for 5 minutes: ends are late. Check the ${aws_scheduler_schedule.tick.name} schedule and the sweep's log group ${aws_cloudwatch_log_group.lambda["sweep"].name}."
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags

  metric_query {
    id          = "succeeded"
    expression  = "FILL(invocations, 0) - FILL(errors, 0)"
    label       = "Sweep runs that did not fail"
    return_data = true
  }
  metric_query {
    id = "invocations"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Invocations"
      dimensions  = { FunctionName = aws_lambda_function.sweep.function_name }
      stat        = "Sum"
      period      = 60
    }
  }
  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = { FunctionName = aws_lambda_function.sweep.function_name }
      stat        = "Sum"
      period      = 60
    }
  }
}
