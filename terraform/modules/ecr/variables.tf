variable "name" {
  description = "Repository name, e.g. `qa-service-dev`."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._/-]{1,254}$", var.name))
    error_message = "name must be a valid ECR repository name (lower case, digits, `.`, `_`, `-`, `/`)."
  }
}

variable "keep_images" {
  description = "How many SHA-tagged images to keep: the rollback window."
  type        = number
  default     = 50

  validation {
    condition     = var.keep_images >= 5 && var.keep_images <= 1000
    error_message = "keep_images must be between 5 and 1000."
  }
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images are expired."
  type        = number
  default     = 1
}

variable "force_delete" {
  description = "Whether `terraform destroy` may delete the repository with its images. Keep `false` in prod."
  type        = bool
  default     = false
}
