output "foundation_model_arns" {
  description = "Foundation-model ARNs the task role may invoke."
  value       = local.arns.foundation_models
}

output "inference_profile_arns" {
  description = "Inference-profile ARNs the task role may invoke."
  value       = local.arns.inference_profiles
}
