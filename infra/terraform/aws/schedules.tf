# EventBridge Scheduler: the tick every minute, the reconcile every hour.

resource "aws_scheduler_schedule" "tick" {
  name                = "${var.name_prefix}-tick"
  schedule_expression = "rate(1 minute)"
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_lambda_function.sweep.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ mode = "tick" })
    retry_policy {
      maximum_retry_attempts = 0 # the next minute's tick is the retry
    }
  }
}

resource "aws_scheduler_schedule" "reconcile" {
  name                = "${var.name_prefix}-reconcile"
  schedule_expression = "rate(1 hour)"
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_lambda_function.sweep.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ mode = "reconcile" })
  }
}
