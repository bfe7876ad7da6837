# The secrets exist in Terraform; their values never do. On-call sets each value with one
# command (README, "Set and rotate the secrets"), so no value reaches code, variables, a
# plan or the state. The smoke-test key is the exception handled in modules/api_gateway.

module "kms" {
  source = "../kms"

  alias       = "${var.name}-secrets"
  description = "Secrets Manager secrets of ${var.name}"
}

################################################################################
# Secrets
################################################################################

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:The values are a Qdrant Cloud URL and key and an API Gateway key issued outside AWS Secrets Manager rotation; on-call rotates them with the README's one-line command.
  for_each = local.secrets

  name                    = "${var.app_name}/${var.environment}/${each.key}"
  description             = each.value
  kms_key_id              = module.kms.key_arn
  recovery_window_in_days = var.recovery_window_in_days
}

locals {
  secrets = {
    "qdrant-url"     = "Qdrant server URL, injected into the service as QDRANT_URL"
    "qdrant-api-key" = "Qdrant API key, injected into the service as QDRANT_API_KEY"
    "smoke-api-key"  = "API Gateway key the post-deploy smoke test sends as x-api-key"
  }
}
