data "aws_caller_identity" "current" {}

module "kms" {
  source = "../kms"

  alias       = "${var.name}-documents"
  description = "Documents bucket of ${var.name}"
}

################################################################################
# Bucket
################################################################################

module "bucket" {
  source = "../private_bucket"

  bucket                             = "${var.name}-documents-${data.aws_caller_identity.current.account_id}"
  kms_key_arn                        = module.kms.key_arn
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  force_destroy                      = var.force_destroy
}
