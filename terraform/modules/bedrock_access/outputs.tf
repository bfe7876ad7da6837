output "foundation_model_arns" {
  description = "Foundation-model ARNs the task role may invoke."
  value       = local.arns.foundation_models
}

output "guardrail_arns" {
  description = "Guardrail ARNs the task role may apply (none, or the one configured)."
  value       = local.guardrails
}

output "rerank_model_arns" {
  description = "Reranking foundation-model ARNs the task role may rerank with (none, or the one configured)."
  value       = local.rerank_models
}

output "inference_profile_arns" {
  description = "Inference-profile ARNs the task role may invoke."
  value       = local.arns.inference_profiles
}
