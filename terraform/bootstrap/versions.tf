terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.25.0"
    }
  }

  # Local state: this is applied once by a person, before the state bucket exists. Keep the
  # terraform.tfstate file (it holds no secret) or move it into the bucket it created with
  # `terraform init -migrate-state` (README, "Bootstrap an AWS account").
}
