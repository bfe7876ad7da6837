################################################################################
# Bucket
################################################################################

output "bucket_name" {
  description = "Name of the bucket."
  value       = try(aws_s3_bucket.this.bucket, null)
}

output "bucket_arn" {
  description = "ARN of the bucket."
  value       = try(aws_s3_bucket.this.arn, null)
}
