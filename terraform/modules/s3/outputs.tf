output "bucket_name" {
  description = "Name of the documents bucket."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of the documents bucket."
  value       = aws_s3_bucket.this.arn
}

output "kms_key_arn" {
  description = "ARN of the key that encrypts the documents."
  value       = module.kms.key_arn
}
