# The AWS mock both test files use (mock_provider "aws" { source = "./tests/mocks" }): the
# values a plan needs known, where a mock's defaults (random strings, empty lists) would not do.
mock_data "aws_availability_zones" {
  defaults = {
    names    = ["us-east-1a", "us-east-1b", "us-east-1c"]
    zone_ids = ["use1-az1", "use1-az2", "use1-az3"]
  }
}
# Every interface endpoint service offered in every zone (modules/network places each
# endpoint only where its service is, and refuses a zone set that offers none).
mock_data "aws_vpc_endpoint_service" {
  defaults = { availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"] }
}
mock_data "aws_region" {
  defaults = { region = "us-east-1", name = "us-east-1" }
}
mock_data "aws_partition" {
  defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
}
mock_data "aws_caller_identity" {
  defaults = { account_id = "111122223333" }
}
mock_data "aws_iam_policy_document" {
  defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}
