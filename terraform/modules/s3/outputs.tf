output "bucket_name" {
  description = "Name of the documents bucket."
  value       = module.bucket.bucket_name
}

output "bucket_arn" {
  description = "ARN of the documents bucket."
  value       = module.bucket.bucket_arn
}

output "kms_key_arn" {
  description = "ARN of the key that encrypts the documents."
  value       = module.kms.key_arn
}
