variable "name" {
  description = "Name prefix of every network resource, e.g. `qa-service-dev`."
  type        = string
}

variable "cidr" {
  description = "IPv4 CIDR of the VPC; split into /20s (for a /16): public subnets first, private from the ninth."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr, 0)) && tonumber(split("/", var.cidr)[1]) <= 20
    error_message = "cidr must be an IPv4 CIDR block of /20 or larger."
  }
}

variable "az_count" {
  description = "Number of availability zones: `2` or `3`."
  type        = number
  default     = 2

  validation {
    condition     = contains([2, 3], var.az_count)
    error_message = "az_count must be 2 or 3."
  }
}

variable "single_nat_gateway" {
  description = "`true`: one NAT gateway for all AZs (cheaper, dev); `false`: one per AZ (an AZ outage keeps the others online, prod)."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "AWS services reached through interface endpoints in the private subnets."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "bedrock-runtime", "sts"]
}

variable "logs_kms_key_arn" {
  description = "KMS key ARN that encrypts the flow log group."
  type        = string
}

variable "log_retention_days" {
  description = "Days the flow logs are kept."
  type        = number
  default     = 365
}

variable "permissions_boundary_arn" {
  description = "Managed policy every role of this module carries as its permissions boundary (created by terraform/bootstrap)."
  type        = string
}
