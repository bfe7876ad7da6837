output "qdrant_url_secret_arn" {
  description = "ARN of the `<app>/<env>/qdrant-url` secret."
  value       = aws_secretsmanager_secret.this["qdrant-url"].arn
}

output "qdrant_api_key_secret_arn" {
  description = "ARN of the `<app>/<env>/qdrant-api-key` secret."
  value       = aws_secretsmanager_secret.this["qdrant-api-key"].arn
}

output "smoke_api_key_secret_arn" {
  description = "ARN of the `<app>/<env>/smoke-api-key` secret."
  value       = aws_secretsmanager_secret.this["smoke-api-key"].arn
}

output "smoke_api_key_secret_id" {
  description = "ID of the `<app>/<env>/smoke-api-key` secret."
  value       = aws_secretsmanager_secret.this["smoke-api-key"].id
}

output "kms_key_arn" {
  description = "ARN of the key that encrypts the secrets."
  value       = module.kms.key_arn
}
