variable "name" {
  description = "Name prefix of the roles, e.g. `qa-service-dev` (the bootstrap's deploy role may pass `<name>-task-exec` and `<name>-task`)."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ARN of the repository the execution role pulls from."
  type        = string
}

variable "log_group_arn" {
  description = "ARN of the service's log group."
  type        = string
}

variable "secret_arns" {
  description = "ARNs of the secrets ECS injects into the container (the two Qdrant secrets)."
  type        = list(string)
}

variable "secrets_kms_key_arn" {
  description = "ARN of the KMS key that encrypts those secrets."
  type        = string
}

variable "bedrock_model_arns" {
  description = "Foundation-model ARNs the service may invoke, e.g. `arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0` (for an inference profile: the model in every Region the profile routes to)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.bedrock_model_arns : can(regex("^arn:aws[a-z-]*:bedrock:[a-z0-9-]+::foundation-model/.+$", arn))])
    error_message = "bedrock_model_arns must be foundation-model ARNs (arn:aws:bedrock:<region>::foundation-model/<id>)."
  }
}

variable "bedrock_inference_profile_arns" {
  description = "Inference-profile ARNs the service may invoke, e.g. `arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0`."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.bedrock_inference_profile_arns : can(regex("^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{12}:(application-)?inference-profile/.+$", arn))])
    error_message = "bedrock_inference_profile_arns must be inference-profile ARNs with an account id."
  }
}

variable "bedrock_guardrail_arns" {
  description = "Guardrail ARNs the service's answers go through (bedrock:ApplyGuardrail), e.g. `arn:aws:bedrock:us-east-1:123456789012:guardrail/gr7abc2def`."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.bedrock_guardrail_arns : can(regex("^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{12}:guardrail/[a-z0-9]+$", arn))])
    error_message = "bedrock_guardrail_arns must be guardrail ARNs with an account id."
  }
}

variable "bedrock_rerank_model_arns" {
  description = "Reranking foundation-model ARNs (BEDROCK_RERANK_MODEL_ID), e.g. `arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0`; empty: the service reranks nothing and the task role may not."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.bedrock_rerank_model_arns : can(regex("^arn:aws[a-z-]*:bedrock:[a-z0-9-]+::foundation-model/.+$", arn))])
    error_message = "bedrock_rerank_model_arns must be foundation-model ARNs (arn:aws:bedrock:<region>::foundation-model/<id>)."
  }
}

variable "documents_bucket_arn" {
  description = "ARN of the documents bucket the service reads."
  type        = string
}

variable "documents_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the documents bucket."
  type        = string
}

variable "permissions_boundary_arn" {
  description = "Managed policy every role of this module carries as its permissions boundary (created by terraform/bootstrap)."
  type        = string
}
