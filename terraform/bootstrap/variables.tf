variable "aws_region" {
  description = "AWS Region of the state bucket and of every environment, e.g. `us-east-1`."
  type        = string
  default     = "us-east-1"
}

variable "app_name" {
  description = "Application name: the prefix of every environment's resources (`<app>-<env>`), as in the root module."
  type        = string
  default     = "qa-service"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.app_name))
    error_message = "app_name must be 2-20 lower-case letters, digits or `-`, starting with a letter."
  }
}

variable "github_repository" {
  description = "The GitHub repository `<org>/<repo>` whose workflows may assume the roles (your fork)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like `<org>/<repo>`."
  }
}

variable "environments" {
  description = "Environments, each with its own state key, GitHub environment and apply and deploy roles."
  type        = list(string)
  default     = ["dev", "prod"]

  validation {
    condition     = length(var.environments) > 0 && alltrue([for e in var.environments : can(regex("^[a-z0-9]+$", e))])
    error_message = "environments must be a non-empty list of lower-case names."
  }
}

variable "create_github_oidc_provider" {
  description = "Whether to create the account's GitHub OIDC provider; `false` when the account already has one (only one per URL is allowed)."
  type        = bool
  default     = true
}

variable "state_noncurrent_version_days" {
  description = "Days old versions of the state files are kept (to recover from a bad apply)."
  type        = number
  default     = 90
}
