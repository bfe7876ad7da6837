# dev: one NAT gateway, no WAF, 7-day secret recovery. Replace 123456789012 with your
# account id and the repository with your fork (README, "Bootstrap an AWS account").
environment = "dev"
aws_region  = "us-east-1"
repository  = "example-org/qa-service"

single_nat_gateway          = true
waf_enabled                 = false
secret_recovery_window_days = 7
log_retention_days          = 30
desired_count               = 2
max_count                   = 4

qdrant_collection          = "documents"
bedrock_embedding_model_id = "amazon.titan-embed-text-v2:0"
bedrock_model_id           = "us.amazon.nova-lite-v1:0"
bedrock_max_tokens         = 1024
log_level                  = "INFO"

# The us. inference profile routes to these Regions; the task role needs the model in each.
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
