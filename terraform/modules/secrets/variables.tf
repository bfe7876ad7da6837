variable "name" {
  description = "Name prefix for the key, e.g. `qa-service-dev`."
  type        = string
}

variable "app_name" {
  description = "Application name: the first part of each secret name `<app>/<env>/<secret>`."
  type        = string
}

variable "environment" {
  description = "Environment: the second part of each secret name. `dev` or `prod`."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be `dev` or `prod`."
  }
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can be restored: 7-30, or 0 to delete at once (dev: the fixed names are free again right after a destroy)."
  type        = number
  default     = 30

  # The provider sends ForceDeleteWithoutRecovery for 0 and RecoveryWindowInDays otherwise
  # (internal/service/secretsmanager/secret.go); Secrets Manager accepts 7-30 for the latter.
  validation {
    condition     = var.recovery_window_in_days == 0 || (var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30)
    error_message = "recovery_window_in_days must be 0 (delete at once) or between 7 and 30."
  }
}
