# prod: a NAT gateway per AZ, WAF on, 30-day secret recovery, deletion protection (set by
# environment = "prod"). Replace 123456789012 and the repository as for dev.
environment = "prod"
aws_region  = "us-east-1"
repository  = "example-org/qa-service"

single_nat_gateway          = false
waf_enabled                 = true
secret_recovery_window_days = 30
log_retention_days          = 365
desired_count               = 2
max_count                   = 6

qdrant_collection          = "documents"
bedrock_embedding_model_id = "amazon.titan-embed-text-v2:0"
bedrock_model_id           = "us.amazon.nova-lite-v1:0"
bedrock_max_tokens         = 1024
log_level                  = "INFO"

bedrock_model_arns = [
  "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
  "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
  "arn:aws:bedrock:us-east-2::foundation-model/amazon.nova-lite-v1:0",
  "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-lite-v1:0",
]
bedrock_inference_profile_arns = [
  "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0",
]

alarm_emails = []
