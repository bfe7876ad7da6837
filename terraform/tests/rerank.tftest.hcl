# The optional Bedrock reranker (bedrock_rerank_model_id -> BEDROCK_RERANK_MODEL_ID, app/rerank.py),
# checked by Terraform on plans with a mock AWS provider: `make tf-test` here, the same file
# on GitHub. Off by default: no setting, no ARN, no Rerank grant. Set: the service gets the
# id, modules/bedrock_access derives the model's ARN, and the task role may rerank with that
# model only (bedrock:Rerank on `*`, which supports no resource-level permissions, and
# bedrock:InvokeModel on the model: Bedrock user guide, "Permissions for reranking").

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  environment = "dev"
  repository  = "example-org/qa-service"
  # Any file will do: the mock provider uploads nothing (make smoke-hook-zip builds the real one).
  smoke_hook_package = "tests/rerank.tftest.hcl"

  # The runs of modules/iam below (the root module declares none of these).
  name                     = "qa-service-dev"
  permissions_boundary_arn = "arn:aws:iam::111122223333:policy/qa-service-dev-workload-boundary"
  ecr_repository_arn       = "arn:aws:ecr:us-west-2:111122223333:repository/qa-service-dev"
  log_group_arn            = "arn:aws:logs:us-west-2:111122223333:log-group:/ecs/qa-service-dev"
  secret_arns              = ["arn:aws:secretsmanager:us-west-2:111122223333:secret:qa-service-dev/qdrant-url-AbCdEf"]
  secrets_kms_key_arn      = "arn:aws:kms:us-west-2:111122223333:key/1"
  documents_bucket_arn     = "arn:aws:s3:::qa-service-dev-documents-111122223333"
  documents_kms_key_arn    = "arn:aws:kms:us-west-2:111122223333:key/2"
}

run "off_by_default" {
  command = plan

  assert {
    condition     = !contains(keys(local.app_environment), "BEDROCK_RERANK_MODEL_ID")
    error_message = "Without bedrock_rerank_model_id the service gets no BEDROCK_RERANK_MODEL_ID."
  }
  assert {
    condition     = module.bedrock_access.rerank_model_arns == []
    error_message = "Without a reranker there is no rerank model ARN to grant."
  }
}

run "a_model_id_is_the_foundation_model_in_the_stack_region" {
  command = plan
  variables {
    aws_region              = "us-west-2"
    bedrock_rerank_model_id = "amazon.rerank-v1:0"
  }

  assert {
    condition     = local.app_environment["BEDROCK_RERANK_MODEL_ID"] == "amazon.rerank-v1:0"
    error_message = "The service gets the reranker's id as BEDROCK_RERANK_MODEL_ID."
  }
  assert {
    condition     = module.bedrock_access.rerank_model_arns == ["arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0"]
    error_message = "A bare id is the foundation model in the stack's Region (as app/rerank.py's model_arn)."
  }
}

run "an_arn_is_taken_as_it_is" {
  command = plan
  variables {
    bedrock_rerank_model_id = "arn:aws:bedrock:us-west-2::foundation-model/cohere.rerank-v3-5:0"
  }

  assert {
    condition     = module.bedrock_access.rerank_model_arns == ["arn:aws:bedrock:us-west-2::foundation-model/cohere.rerank-v3-5:0"]
    error_message = "A foundation-model ARN is the reranker's ARN."
  }
}

run "the_task_role_reranks_only_with_the_configured_model" {
  command = plan
  module {
    source = "./modules/iam"
  }
  variables {
    bedrock_rerank_model_arns = ["arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0"]
  }

  assert {
    condition = length([
      for s in data.aws_iam_policy_document.task.statement : s
      if s.sid == "Rerank" && toset(s.actions) == toset(["bedrock:Rerank"]) && toset(s.resources) == toset(["*"])
    ]) == 1
    error_message = "With a reranker the task role may call bedrock:Rerank (no resource-level permissions: `*`)."
  }
  assert {
    condition = length([
      for s in data.aws_iam_policy_document.task.statement : s
      if s.sid == "InvokeTheRerankModel" && toset(s.actions) == toset(["bedrock:InvokeModel"]) && toset(s.resources) == toset(["arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0"])
    ]) == 1
    error_message = "With a reranker the task role may invoke that model, and no other, for Rerank."
  }
}

run "no_rerank_grant_without_a_reranker" {
  command = plan
  module {
    source = "./modules/iam"
  }

  assert {
    condition = length([
      for s in data.aws_iam_policy_document.task.statement : s
      if contains(s.actions, "bedrock:Rerank") || s.sid == "InvokeTheRerankModel"
    ]) == 0
    error_message = "Without a reranker the task role may not rerank."
  }
}
