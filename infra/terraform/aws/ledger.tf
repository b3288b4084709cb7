# The ledger: one table, laid out as pkg/ledger/dynamo expects (its package
# doc; infra/terraform's test compares this with dynamo.CreateTable).

resource "aws_dynamodb_table" "ledger" {
  name                        = "${var.name_prefix}-ledger"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = true

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }
  attribute {
    name = "state"
    type = "S"
  }
  attribute {
    name = "due"
    type = "S"
  }

  # The tick's due list, and the listings of contractors and audit entries.
  global_secondary_index {
    name            = "by-due"
    hash_key        = "state"
    range_key       = "due"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
}
