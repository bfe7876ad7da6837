# prod: a NAT gateway per AZ, WAF on, 30-day secret recovery, deletion protection (set by
# environment = "prod"). Replace the repository as for dev.
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

# blue/green: a release that fails the smoke test never takes a production request (README, "Blue/green deployments").
deployment_strategy = "BLUE_GREEN"

# The smoke test's question (deploy.smoke, deploy.rollout and the blue/green hook): one the
# documents prod holds answer. The first release ingests docs/sample, and its
# rotate-qdrant-key.md answers this; dev leaves it unset (deploy.smoke's default question).
smoke_question = "How do I rotate the Qdrant API key?"

# The us. inference profile routes to these Regions; the task role may invoke the model in
# each (the ARNs are derived from the ids and the caller's account).
bedrock_model_regions = ["us-east-1", "us-east-2", "us-west-2"]

alarm_emails = []
