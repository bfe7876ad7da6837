variable "alias" {
  description = "Alias of the key, without the `alias/` prefix, e.g. `qa-service-dev-secrets`."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9/_-]+$", var.alias)) && !startswith(var.alias, "aws/")
    error_message = "The alias may hold letters, digits, `/`, `_` and `-`, and must not start with `aws/`."
  }
}

variable "description" {
  description = "What the key encrypts."
  type        = string
}

variable "service_principals" {
  description = "AWS service principals (e.g. `logs.us-east-1.amazonaws.com`) that may use the key for resources of this account."
  type        = list(string)
  default     = []
}

variable "service_conditions" {
  description = "Conditions on the service principals' statement, e.g. `kms:EncryptionContext:aws:logs:arn` for CloudWatch Logs."
  type = list(object({
    test     = string
    variable = string
    values   = list(string)
  }))
  default = []
}

variable "deletion_window_in_days" {
  description = "Days between scheduling the key's deletion and its deletion (7-30)."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "rotation_period_in_days" {
  description = "Days between automatic rotations of the key material (90-2560)."
  type        = number
  default     = 365

  validation {
    condition     = var.rotation_period_in_days >= 90 && var.rotation_period_in_days <= 2560
    error_message = "rotation_period_in_days must be between 90 and 2560."
  }
}
