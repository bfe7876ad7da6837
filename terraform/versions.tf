terraform {
  # 1.10: S3 backend native locking (use_lockfile); 1.11: write-only arguments
  # (secret_string_wo keeps the smoke-test key's secret version out of state).
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.25.0"
    }
  }

  # Partial configuration: envs/<env>.backend.hcl plus `-backend-config=bucket=<state bucket>`
  # (README, "Bootstrap an AWS account").
  backend "s3" {}
}
