# S3 backend of the dev state. The bucket comes from the GitHub variable TF_STATE_BUCKET:
#   terraform -chdir=terraform init -backend-config=envs/dev.backend.hcl -backend-config="bucket=$TF_STATE_BUCKET"
key          = "qa-service/dev/terraform.tfstate"
region       = "us-east-1"
encrypt      = true
kms_key_id   = "alias/qa-service-tfstate"
use_lockfile = true
