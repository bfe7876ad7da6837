variable "partition" {
  description = "The caller's partition (`aws`, `aws-us-gov`, `aws-cn`)."
  type        = string
}

variable "account_id" {
  description = "The caller's account id: the inference profile is invoked in this account."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account id."
  }
}

variable "region" {
  description = "Region of the stack: where the service calls Bedrock."
  type        = string
}

variable "answer_model_id" {
  description = "BEDROCK_MODEL_ID: a foundation-model id, or a cross-Region inference-profile id such as `us.amazon.nova-lite-v1:0`; empty for none."
  type        = string
}

variable "answer_model_regions" {
  description = "Regions the answer model's inference profile routes to (Bedrock user guide, \"Supported Regions and models for inference profiles\"); empty for a foundation-model id."
  type        = list(string)

  validation {
    condition = (
      can(regex(local.geo_prefix, var.answer_model_id))
      == (length(var.answer_model_regions) > 0)
    )
    error_message = "An inference-profile id (us., eu., apac., ...) needs the Regions it routes to in answer_model_regions; a foundation-model id takes none."
  }
}

variable "guardrail_id" {
  description = "BEDROCK_GUARDRAIL_ID: a guardrail id or ARN the answers go through; empty for none."
  type        = string
  default     = ""
}

variable "rerank_model_id" {
  description = "BEDROCK_RERANK_MODEL_ID: a reranking foundation-model id (e.g. `amazon.rerank-v1:0`, invoked in the stack's Region) or a foundation-model ARN; empty for none."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^(|[a-z0-9-]+\\.[a-z0-9.:-]+|arn:aws(-[^:]+)?:bedrock:[a-z0-9-]+::foundation-model/.+)$", var.rerank_model_id))
    error_message = "rerank_model_id must be a foundation-model id (amazon.rerank-v1:0) or a foundation-model ARN."
  }
}

variable "embedding_model_id" {
  description = "BEDROCK_EMBEDDING_MODEL_ID: a foundation-model id invoked in the stack's Region; empty for none."
  type        = string

  validation {
    condition     = !can(regex(local.geo_prefix, var.embedding_model_id))
    error_message = "embedding_model_id must be a foundation-model id (the service invokes it in the stack's Region)."
  }
}
