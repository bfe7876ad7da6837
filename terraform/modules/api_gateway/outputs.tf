output "rest_api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "invoke_url" {
  description = "Invoke URL of the stage (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`)."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "stage_arn" {
  description = "ARN of the stage."
  value       = aws_api_gateway_stage.this.arn
}

output "usage_plan_id" {
  description = "ID of the usage plan."
  value       = aws_api_gateway_usage_plan.this.id
}

output "client_api_key_id" {
  description = "ID of the clients' API key (`aws apigateway get-api-key --include-value --api-key <id>`)."
  value       = aws_api_gateway_api_key.this["clients"].id
}

output "smoke_api_key_id" {
  description = "ID of the smoke-test API key."
  value       = aws_api_gateway_api_key.this["smoke"].id
}

output "web_acl_arn" {
  description = "ARN of the WAF web ACL, or null when WAF is off."
  value       = try(aws_wafv2_web_acl.this[0].arn, null)
}
