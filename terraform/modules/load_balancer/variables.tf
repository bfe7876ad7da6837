variable "name" {
  description = "Name of the load balancer and target group (at most 32 characters), e.g. `qa-service-dev`."
  type        = string

  validation {
    condition     = length(var.name) <= 28
    error_message = "Load balancer and target group names are limited to 32 characters, and the alternate target group adds `-alt`: at most 28."
  }
}

variable "vpc_id" {
  description = "VPC of the load balancer."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC: the only source allowed on the listener port."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets, one per AZ."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "The load balancer needs subnets in at least two AZs."
  }
}

variable "listener_port" {
  description = "TCP port of the listener the VPC link targets."
  type        = number
  default     = 80
}

variable "target_port" {
  description = "Container port the target group forwards to."
  type        = number
  default     = 8080
}

variable "health_check_path" {
  description = "HTTP path of the target health check (the service's liveness route)."
  type        = string
  default     = "/health"
}

variable "deregistration_delay" {
  description = "Seconds a draining target keeps its connections."
  type        = number
  default     = 30
}

variable "deletion_protection" {
  description = "Whether the load balancer refuses deletion. `true` in prod."
  type        = bool
  default     = true
}

variable "test_listener_port" {
  description = "Port of the blue/green test listener (forwarding to the alternate target group), or `null` for a rolling service: no alternate group, no test listener."
  type        = number
  default     = null

  validation {
    condition     = var.test_listener_port == null || try(var.test_listener_port >= 1 && var.test_listener_port <= 65535, false)
    error_message = "test_listener_port must be a TCP port number (or null)."
  }
}
