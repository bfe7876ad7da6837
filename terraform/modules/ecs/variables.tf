variable "name" {
  description = "Name of the cluster, service, task family and log group, e.g. `qa-service-dev`."
  type        = string
}

variable "container_definitions_template" {
  description = "Path of the container-definition template rendered with templatefile() (`.aws/task-definition.json`)."
  type        = string
}

variable "container_name" {
  description = "Name of the container in the task definition (the rollout swaps this container's image)."
  type        = string
  default     = "app"
}

variable "container_port" {
  description = "Port the container listens on."
  type        = number
  default     = 8080
}

variable "health_check_path" {
  description = "Liveness path the container health check calls."
  type        = string
  default     = "/health"
}

variable "image_repository_url" {
  description = "ECR repository URL of the service image."
  type        = string
}

variable "image_tag" {
  description = "Commit SHA (40 hex) of the image for the first deployment; `null` until an image exists. Afterwards the rollout owns the image."
  type        = string
  default     = null

  validation {
    condition     = var.image_tag == null || can(regex("^[0-9a-f]{40}$", var.image_tag))
    error_message = "image_tag must be a full 40-character lower-case commit SHA."
  }
}

variable "environment" {
  description = "Non-secret settings passed to the container as environment variables (name => value)."
  type        = map(string)
}

variable "secrets" {
  description = "Settings injected from Secrets Manager (environment variable name => secret ARN)."
  type        = map(string)
}

variable "task_cpu" {
  description = "Fargate task CPU units (`256`, `512`, `1024`, `2048`, `4096`)."
  type        = number
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.task_cpu)
    error_message = "task_cpu must be one of 256, 512, 1024, 2048, 4096."
  }
}

variable "task_memory" {
  description = "Fargate task memory in MiB, one the CPU size allows: 256 CPU: 512, 1024, 2048; 512: 1024-4096; 1024: 2048-8192; 2048: 4096-16384; 4096: 8192-30720 (in steps of 1024)."
  type        = number
  default     = 1024

  # Fargate's task sizes (ECS developer guide, "Task CPU and memory" for Fargate): an
  # invalid pair would otherwise fail only at RegisterTaskDefinition, mid-apply.
  validation {
    condition = contains(lookup({
      256  = [512, 1024, 2048]
      512  = [for gib in range(1, 5) : gib * 1024]
      1024 = [for gib in range(2, 9) : gib * 1024]
      2048 = [for gib in range(4, 17) : gib * 1024]
      4096 = [for gib in range(8, 31) : gib * 1024]
    }, tostring(var.task_cpu), []), var.task_memory)
    error_message = "task_memory is not a Fargate size for this task_cpu: 256 CPU takes 512, 1024 or 2048 MiB; 512 takes 1024-4096; 1024 takes 2048-8192; 2048 takes 4096-16384; 4096 takes 8192-30720 (multiples of 1024)."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: `X86_64` or `ARM64`."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL (at most 120 on Fargate)."
  type        = number
  default     = 30

  validation {
    condition     = var.stop_timeout >= 2 && var.stop_timeout <= 120
    error_message = "stop_timeout must be between 2 and 120 seconds."
  }
}

variable "execution_role_arn" {
  description = "Role ECS uses to pull the image, write logs and read the secrets."
  type        = string
}

variable "task_role_arn" {
  description = "Role the service's code runs as (Bedrock, S3)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks, one per AZ."
  type        = list(string)
}

variable "lb_security_group_id" {
  description = "Security group of the load balancer: the only source allowed on the container port."
  type        = string
}

variable "egress_tcp_ports" {
  description = "TCP ports the tasks may open to any address besides 443, e.g. `[6333]` for Qdrant Cloud's REST port."
  type        = list(number)
  default     = []

  validation {
    condition     = alltrue([for p in var.egress_tcp_ports : p >= 1 && p <= 65535])
    error_message = "egress_tcp_ports must be TCP port numbers."
  }
}

variable "target_group_arn" {
  description = "Target group the service registers its tasks into."
  type        = string
}

variable "desired_count" {
  description = "Tasks at creation and the autoscaling minimum (at least 2, spread across AZs)."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 2
    error_message = "desired_count must be at least 2 so that one AZ can fail."
  }
}

variable "max_count" {
  description = "Autoscaling maximum number of tasks."
  type        = number
  default     = 6
}

variable "cpu_target_percent" {
  description = "Average CPU utilisation that target-tracking autoscaling aims for."
  type        = number
  default     = 60
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores failing load balancer health checks after a task starts."
  type        = number
  default     = 60
}

variable "container_insights" {
  description = "Container Insights level: `enabled`, `enhanced` or `disabled`."
  type        = string
  default     = "enabled"

  validation {
    condition     = contains(["enabled", "enhanced", "disabled"], var.container_insights)
    error_message = "container_insights must be enabled, enhanced or disabled."
  }
}

variable "log_retention_days" {
  description = "Days the service's logs are kept."
  type        = number
  default     = 365
}

variable "logs_kms_key_arn" {
  description = "KMS key ARN that encrypts the service's log group."
  type        = string
}

variable "deployment_strategy" {
  description = "ECS deployment strategy: `ROLLING` (replace tasks in place) or `BLUE_GREEN` (ECS native blue/green with the smoke hook before production moves)."
  type        = string
  default     = "ROLLING"

  validation {
    condition     = contains(["ROLLING", "BLUE_GREEN"], var.deployment_strategy)
    error_message = "deployment_strategy must be ROLLING or BLUE_GREEN."
  }
}

variable "bake_time_in_minutes" {
  description = "BLUE_GREEN: minutes the old revision stays ready for an instant rollback after production moved (0-1440)."
  type        = number
  default     = 5

  validation {
    condition     = var.bake_time_in_minutes >= 0 && var.bake_time_in_minutes <= 1440
    error_message = "bake_time_in_minutes must be between 0 and 1440."
  }
}

variable "blue_green" {
  description = "BLUE_GREEN only (else null): the alternate target group, the production and test listeners, ECS's infrastructure role, and the smoke hook with the role ECS invokes it through."
  type = object({
    alternate_target_group_arn = string
    production_listener_arn    = string
    test_listener_arn          = string
    infrastructure_role_arn    = string
    hook_function_arn          = string
    hook_role_arn              = string
  })
  default = null
}
