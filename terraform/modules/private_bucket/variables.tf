################################################################################
# Bucket
################################################################################

variable "bucket" {
  description = "Name of the bucket, e.g. `qa-service-dev-documents-123456789012` (3-63 lower-case letters, digits, `.` or `-`)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket))
    error_message = "bucket must be 3-63 lower-case letters, digits, `.` or `-`, starting and ending with a letter or digit."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the objects (e.g. `module.kms.key_arn`)."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be the ARN of a KMS key (`arn:<partition>:kms:<region>:<account>:key/<id>`), not an alias."
  }
}

variable "force_destroy" {
  description = "Whether `terraform destroy` may delete the bucket with its objects. Keep `false` for anything that cannot be recreated."
  type        = bool
  default     = false
}

################################################################################
# Lifecycle
################################################################################

variable "noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted object version is kept."
  type        = number

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}
