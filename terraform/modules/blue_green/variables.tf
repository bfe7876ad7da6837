variable "name" {
  description = "Name prefix of the function, roles and log group, e.g. `qa-service-prod` (also the ECS cluster and service name)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the hook function."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC: where the hook may reach the test listener."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the hook function runs in."
  type        = list(string)
}

variable "test_url" {
  description = "Base URL of the test listener, `http://<internal NLB DNS name>:<port>` (no trailing slash): the hook's TEST_URL."
  type        = string

  validation {
    condition     = can(regex("^http://[^/]+:[0-9]+$", var.test_url))
    error_message = "test_url must be http://<host>:<port> with no path or trailing slash."
  }
}

variable "test_listener_port" {
  description = "TCP port of the test listener (the hook's only destination inside the VPC)."
  type        = number
}

variable "package" {
  description = "Path of the hook's Lambda zip (scripts/build-smoke-hook.py), read at plan and at apply."
  type        = string
}

variable "load_balancer" {
  description = "ARNs ECS's infrastructure role may act on: the two target groups and the two listeners."
  type = object({
    target_group_arns = list(string)
    listener_arns     = list(string)
  })
}

variable "smoke_max_attempts" {
  description = "SMOKE_MAX_ATTEMPTS: hook invocations before the new revision is declared failed."
  type        = number
  default     = 20
}

variable "smoke_callback_delay_s" {
  description = "SMOKE_CALLBACK_DELAY_S: seconds ECS waits before calling the hook again after IN_PROGRESS."
  type        = number
  default     = 30
}

variable "smoke_timeout_s" {
  description = "SMOKE_TIMEOUT_S: timeout of each of the hook's requests, in seconds."
  type        = number
  default     = 10
}

variable "smoke_question" {
  description = "SMOKE_QUESTION: the question the hook asks (the root input smoke_question); null leaves it out, and the hook asks deploy.smoke's DEFAULT_QUESTION."
  type        = string
  default     = null
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved for the hook (and its ceiling): ECS calls it once at a time per deployment."
  type        = number
  default     = 2
}

variable "log_retention_days" {
  description = "Days the hook's logs are kept."
  type        = number
  default     = 365
}

variable "logs_kms_key_arn" {
  description = "KMS key ARN that encrypts the hook's log group."
  type        = string
}

variable "permissions_boundary_arn" {
  description = "Managed policy every role of this module carries as its permissions boundary (created by terraform/bootstrap)."
  type        = string
}
