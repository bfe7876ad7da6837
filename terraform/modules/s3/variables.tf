variable "name" {
  description = "Name prefix of the bucket, e.g. `qa-service-dev` (the account id is appended for uniqueness)."
  type        = string
}

variable "noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted document version is kept."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Whether `terraform destroy` may delete the bucket with its documents. Keep `false` in prod."
  type        = bool
  default     = false
}
