# What the task role may invoke, derived from the model ids: no ARN is written by hand, and
# the account and partition are the caller's (no placeholder account id to forget).
#
# Bedrock's ARNs (Bedrock user guide, "Supported Regions and models for inference
# profiles" and "Prerequisites for inference profiles"): a cross-Region (system-defined)
# inference profile `<geo>.<model>` is invoked in the stack's Region as
#   arn:<partition>:bedrock:<region>:<account>:inference-profile/<geo>.<model>
# and routes each request to the foundation model in one of its destination Regions, so the
# caller needs the model there too:
#   arn:<partition>:bedrock:<destination>::foundation-model/<model>
# A model id without a geography prefix is a foundation model invoked in the stack's Region.
# Provider-free on purpose: tests/infra runs it with the real Terraform, offline.

locals {
  # The geography prefixes of system-defined inference profiles.
  geo_prefix = "^(us|us-gov|eu|apac|ca|jp|au|global)\\."

  models = {
    for role, m in {
      answer    = { id = var.answer_model_id, regions = var.answer_model_regions }
      embedding = { id = var.embedding_model_id, regions = [] }
      } : role => {
      profile    = can(regex(local.geo_prefix, m.id))
      foundation = replace(m.id, "/${local.geo_prefix}/", "")
      id         = m.id
      regions    = m.regions
    } if m.id != ""
  }

  # A guardrail id names a guardrail of this account and Region; an ARN is taken as it is.
  # The resource of bedrock:ApplyGuardrail, which a Converse call with guardrailConfig needs
  # (Bedrock user guide, "Set up permissions to use Amazon Bedrock Guardrails"):
  #   arn:<partition>:bedrock:<region>:<account>:guardrail/<id>
  guardrails = [
    for id in(var.guardrail_id == "" ? [] : [var.guardrail_id]) :
    can(regex("^arn:", id)) ? id : "arn:${var.partition}:bedrock:${var.region}:${var.account_id}:guardrail/${id}"
  ]

  # Rerank names its model by ARN; the service turns a bare id into the foundation model in
  # its Region (app/rerank.py, model_arn), and so does this. The reranker is authorized as
  # bedrock:InvokeModel on that model (Bedrock user guide, "Permissions for reranking").
  rerank_models = [
    for id in(var.rerank_model_id == "" ? [] : [var.rerank_model_id]) :
    can(regex("^arn:", id)) ? id : "arn:${var.partition}:bedrock:${var.region}::foundation-model/${id}"
  ]

  arns = {
    foundation_models = sort(distinct(flatten([
      for m in values(local.models) : [
        for r in(m.profile ? m.regions : [var.region]) :
        "arn:${var.partition}:bedrock:${r}::foundation-model/${m.foundation}"
      ]
    ])))
    inference_profiles = sort([
      for m in values(local.models) :
      "arn:${var.partition}:bedrock:${var.region}:${var.account_id}:inference-profile/${m.id}" if m.profile
    ])
  }
}
