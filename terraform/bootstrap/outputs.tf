output "state_bucket_name" {
  description = "State bucket: the GitHub variable TF_STATE_BUCKET."
  value       = module.state_bucket.bucket_name
}

output "state_kms_key_alias" {
  description = "Alias of the state key (`kms_key_id` in envs/<env>.backend.hcl)."
  value       = "alias/${var.app_name}-tfstate"
}

output "plan_role_arn" {
  description = "Role for pull-request plans: the GitHub variable AWS_PLAN_ROLE_ARN."
  value       = aws_iam_role.plan.arn
}

output "apply_role_arns" {
  description = "Apply role per environment: the GitHub environment variable AWS_APPLY_ROLE_ARN."
  value       = { for env, role in aws_iam_role.apply : env => role.arn }
}

output "deploy_role_arns" {
  description = "Deploy role per environment: the GitHub environment variable AWS_DEPLOY_ROLE_ARN."
  value       = { for env, role in aws_iam_role.deploy : env => role.arn }
}

output "github_variables" {
  description = "Every GitHub variable the workflows read, with its value: `repository` for the repository, `environments.<env>` for each GitHub environment."
  value = {
    repository = {
      AWS_REGION        = var.aws_region
      TF_STATE_BUCKET   = module.state_bucket.bucket_name
      AWS_PLAN_ROLE_ARN = aws_iam_role.plan.arn
    }
    environments = {
      for env in keys(local.envs) : env => {
        AWS_APPLY_ROLE_ARN  = aws_iam_role.apply[env].arn
        AWS_DEPLOY_ROLE_ARN = aws_iam_role.deploy[env].arn
      }
    }
  }
}
