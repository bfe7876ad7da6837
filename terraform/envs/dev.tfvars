# dev: one NAT gateway, no WAF, secrets deleted at once on destroy (so dev can be
# re-created the same day). Replace the repository with your
# fork (README, "Bootstrap an AWS account").
environment = "dev"
aws_region  = "us-east-1"
repository  = "example-org/qa-service"

single_nat_gateway          = true
waf_enabled                 = false
secret_recovery_window_days = 0
log_retention_days          = 30
desired_count               = 2
max_count                   = 4

qdrant_collection          = "documents"
bedrock_embedding_model_id = "amazon.titan-embed-text-v2:0"
bedrock_model_id           = "us.amazon.nova-lite-v1:0"
bedrock_max_tokens         = 1024
log_level                  = "INFO"

# rolling: releases take minutes; dev needs no blue/green (README, "Blue/green deployments").
deployment_strategy = "ROLLING"

# The us. inference profile routes to these Regions; the task role may invoke the model in
# each (the ARNs are derived from the ids and the caller's account).
bedrock_model_regions = ["us-east-1", "us-east-2", "us-west-2"]

alarm_emails = []
