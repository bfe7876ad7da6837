################################################################################
# Identity
################################################################################

variable "aws_region" {
  description = "AWS Region of the whole stack, e.g. `us-east-1` (the same as the GitHub variable `AWS_REGION`)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a Region name such as us-east-1."
  }
}

variable "app_name" {
  description = "Application name: prefix of every resource name and of the secret names `<app>/<env>/...`."
  type        = string
  default     = "qa-service"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.app_name))
    error_message = "app_name must be 2-20 lower-case letters, digits or `-`, starting with a letter (it prefixes names limited to 32 characters)."
  }
}

variable "environment" {
  description = "Environment: `dev` or `prod`. `prod` turns on deletion protection and refuses force-deletes."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be `dev` or `prod`."
  }
}

variable "repository" {
  description = "GitHub repository `<org>/<repo>` that manages this stack (the `Repository` tag)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.repository))
    error_message = "repository must look like `<org>/<repo>`."
  }
}

################################################################################
# Network
################################################################################

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC."
  type        = string
  default     = "10.0.0.0/16"
}

variable "az_count" {
  description = "Availability zones to spread subnets and tasks over: `2` or `3`."
  type        = number
  default     = 2
}

variable "single_nat_gateway" {
  description = "`true`: one NAT gateway (dev); `false`: one per AZ (prod)."
  type        = bool
  default     = false
}

variable "vpc_interface_endpoints" {
  description = "AWS services reached through interface endpoints (about $7.30 a month each per AZ); a service left out goes through NAT."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "bedrock-runtime", "sts"]
}

################################################################################
# Service
################################################################################

variable "image_tag" {
  description = "Commit SHA of the image the first deployment runs; `null` until one is pushed. Afterwards the rollout owns the image and this is ignored by the service."
  type        = string
  default     = null
}

variable "task_cpu" {
  description = "Fargate task CPU units: `256`, `512`, `1024`, `2048` or `4096`."
  type        = number
  default     = 512
}

variable "task_memory" {
  description = "Fargate task memory in MiB, valid for the CPU size."
  type        = number
  default     = 1024
}

variable "desired_count" {
  description = "Tasks at creation and the autoscaling minimum (at least 2)."
  type        = number
  default     = 2
}

variable "max_count" {
  description = "Autoscaling maximum number of tasks."
  type        = number
  default     = 6
}

variable "log_level" {
  description = "LOG_LEVEL of the service: `DEBUG`, `INFO`, `WARNING` or `ERROR`."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "qdrant_port" {
  description = "TCP port of the Qdrant server the tasks may reach (Qdrant Cloud: `6333` REST, `443` when the URL has no port)."
  type        = number
  default     = 6333
}

variable "qdrant_collection" {
  description = "QDRANT_COLLECTION: the Qdrant collection the service reads."
  type        = string
  default     = "documents"
}

variable "bedrock_embedding_model_id" {
  description = "BEDROCK_EMBEDDING_MODEL_ID, e.g. `amazon.titan-embed-text-v2:0`; empty for sparse-only retrieval."
  type        = string
  default     = ""
}

variable "bedrock_model_id" {
  description = "BEDROCK_MODEL_ID (a model or inference-profile id, e.g. `us.amazon.nova-lite-v1:0`); empty for the extractive answerer."
  type        = string
  default     = ""
}

variable "bedrock_max_tokens" {
  description = "BEDROCK_MAX_TOKENS: the answer's token limit (1-8192)."
  type        = number
  default     = 1024

  validation {
    condition     = var.bedrock_max_tokens >= 1 && var.bedrock_max_tokens <= 8192
    error_message = "bedrock_max_tokens must be between 1 and 8192."
  }
}

variable "extra_environment" {
  description = "More non-secret settings for the container (name => value), e.g. `{ CHUNK_TOKENS = \"300\" }`. Secrets never go here."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(setintersection(keys(var.extra_environment), ["QDRANT_URL", "QDRANT_API_KEY"])) == 0
    error_message = "QDRANT_URL and QDRANT_API_KEY come from Secrets Manager; set them with the README's command, not here."
  }
}

variable "bedrock_guardrail_id" {
  description = "BEDROCK_GUARDRAIL_ID: a Bedrock guardrail's id (or ARN, in this account and Region) applied to every answer; the task role may apply it (bedrock:ApplyGuardrail). Empty for none."
  type        = string
  default     = ""

  validation {
    # botocore's GuardrailIdentifier pattern (bedrock-runtime service model).
    condition     = can(regex("^(|[a-z0-9]+|arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+)$", var.bedrock_guardrail_id))
    error_message = "bedrock_guardrail_id must be a guardrail id (lower-case letters and digits) or a guardrail ARN."
  }
}

variable "bedrock_guardrail_version" {
  description = "BEDROCK_GUARDRAIL_VERSION: the guardrail's version, a number or `DRAFT`; set with `bedrock_guardrail_id`, and only with it."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^(|[1-9][0-9]{0,7}|DRAFT)$", var.bedrock_guardrail_version))
    error_message = "bedrock_guardrail_version must be a version number or DRAFT."
  }

  validation {
    condition     = (var.bedrock_guardrail_id == "") == (var.bedrock_guardrail_version == "")
    error_message = "bedrock_guardrail_id and bedrock_guardrail_version go together: set both or neither."
  }
}

variable "bedrock_rerank_model_id" {
  description = "BEDROCK_RERANK_MODEL_ID: a Bedrock reranking model id (e.g. `amazon.rerank-v1:0`, in a Region that offers it) or its foundation-model ARN; the task role may then rerank with it (bedrock:Rerank, bedrock:InvokeModel on the model). Empty for none: retrieval's own order."
  type        = string
  default     = ""
}

variable "bedrock_model_regions" {
  description = "Regions the inference profile in `bedrock_model_id` routes to (the task role may invoke the model in each); `[]` when `bedrock_model_id` is a foundation-model id. The ARNs are derived (modules/bedrock_access)."
  type        = list(string)
  default     = []
}

################################################################################
# Deployments
################################################################################

variable "deployment_strategy" {
  description = "How a release replaces the tasks: `ROLLING` (in place; dev) or `BLUE_GREEN` (ECS native blue/green: the new revision is smoke-tested through a test listener before production moves, and ECS rolls back by itself; about 25-40 minutes longer; prod). README: \"Blue/green deployments\"."
  type        = string
  default     = "ROLLING"

  validation {
    condition     = contains(["ROLLING", "BLUE_GREEN"], var.deployment_strategy)
    error_message = "deployment_strategy must be ROLLING or BLUE_GREEN."
  }
}

variable "bake_time_in_minutes" {
  description = "BLUE_GREEN: minutes the old revision is kept, ready for an instant rollback, after production moved (the rollout smoke-tests the live service then)."
  type        = number
  default     = 5
}

variable "test_listener_port" {
  description = "BLUE_GREEN: port of the internal NLB's test listener (the new revision before production moves), reachable only from inside the VPC."
  type        = number
  default     = 9080

  validation {
    condition     = var.test_listener_port >= 1 && var.test_listener_port <= 65535 && var.test_listener_port != 80
    error_message = "test_listener_port must be a TCP port other than the production listener's 80."
  }
}

variable "smoke_hook_package" {
  description = "BLUE_GREEN: the smoke hook's Lambda zip, relative to terraform/ (`make smoke-hook-zip` writes it)."
  type        = string
  default     = "../.build/smoke-hook.zip"
}

################################################################################
# Data and retention
################################################################################

variable "ecr_keep_images" {
  description = "SHA-tagged images kept in ECR: the rollback window."
  type        = number
  default     = 50
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret stays restorable: 7-30, or `0` to delete it at once so that a destroyed environment can be re-created the same day (dev). README: \"Restore a deleted secret\"."
  type        = number
  default     = 30
}

variable "documents_noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted document version is kept."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "Days every log group (service, API access, WAF, flow logs) keeps its logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 30, 90, 365)."
  }
}

################################################################################
# API Gateway
################################################################################

variable "api_stream_timeout_ms" {
  description = "How long `/ask/stream` may stream, in milliseconds (up to 900000 = 15 minutes; `/ask` keeps API Gateway's 29 s)."
  type        = number
  default     = 300000
}

variable "stage_throttle_rate_limit" {
  description = "Stage-wide steady-state requests per second."
  type        = number
  default     = 50
}

variable "stage_throttle_burst_limit" {
  description = "Stage-wide burst of requests."
  type        = number
  default     = 100
}

variable "usage_plan_rate_limit" {
  description = "Requests per second per API key."
  type        = number
  default     = 10
}

variable "usage_plan_burst_limit" {
  description = "Burst of requests per API key."
  type        = number
  default     = 20
}

variable "usage_plan_quota_limit" {
  description = "Requests per API key per quota period."
  type        = number
  default     = 100000
}

variable "usage_plan_quota_period" {
  description = "Quota period: `DAY`, `WEEK` or `MONTH`."
  type        = string
  default     = "MONTH"
}

variable "api_key_generation" {
  description = "Generation of the API keys; increase by one to rotate the clients' and the smoke-test key."
  type        = number
  default     = 1
}

variable "waf_enabled" {
  description = "Whether a WAF web ACL (per-IP rate limit) protects the stage."
  type        = bool
  default     = true
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes from one IP before WAF blocks it."
  type        = number
  default     = 1000
}

################################################################################
# Alarms
################################################################################

variable "alarm_sns_topic_arn" {
  description = "Existing SNS topic for the alarms; `null` creates one."
  type        = string
  default     = null
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the created alarm topic."
  type        = list(string)
  default     = []
}

variable "api_5xx_rate_threshold" {
  description = "Share of API requests answered 5XX (0-1) that raises the alarm."
  type        = number
  default     = 0.05
}

variable "api_p99_latency_ms" {
  description = "API p99 latency in milliseconds that raises the alarm."
  type        = number
  default     = 10000
}

variable "smoke_question" {
  description = "The smoke test's /ask question, one this environment's documents answer: the blue/green hook's SMOKE_QUESTION and the output deploy.smoke and deploy.rollout read. null: deploy/smoke.py's DEFAULT_QUESTION, which docs/sample answers."
  type        = string
  default     = null

  # As the API takes a question (app/schemas.py, Question): not all whitespace, at most
  # 2,000 characters once trimmed. A conditional, not `||`: Terraform 1.11 evaluates both
  # sides of `||`, and trimspace(null) is an error.
  validation {
    condition     = var.smoke_question == null ? true : (trimspace(var.smoke_question) != "" && length(trimspace(var.smoke_question)) <= 2000)
    error_message = "smoke_question must be a question of 1 to 2000 characters, not blank; leave it unset (null) for the default question about docs/sample."
  }
}
