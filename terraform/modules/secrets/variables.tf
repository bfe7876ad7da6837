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
  description = "Days a deleted secret can be restored (7-30); `0` deletes at once and is refused here."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30
    error_message = "recovery_window_in_days must be between 7 and 30: a deleted secret must stay restorable."
  }
}
