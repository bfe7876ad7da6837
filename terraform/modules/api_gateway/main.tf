locals {
  # Routes the API exposes: path => method, whether an API key is required, and the
  # integration's timeout and transfer mode. `/` and `/health` stay open: the page asks
  # for the key itself, and liveness must be callable by anyone who checks the stage.
  routes = {
    root       = { path = "/", method = "GET", api_key = false, timeout_ms = var.integration_timeout_ms, stream = false }
    health     = { path = "/health", method = "GET", api_key = false, timeout_ms = var.integration_timeout_ms, stream = false }
    ask        = { path = "/ask", method = "POST", api_key = true, timeout_ms = var.integration_timeout_ms, stream = false }
    ask_stream = { path = "/ask/stream", method = "POST", api_key = true, timeout_ms = var.stream_timeout_ms, stream = true }
  }

  resource_ids = {
    root       = aws_api_gateway_rest_api.this.root_resource_id
    health     = aws_api_gateway_resource.health.id
    ask        = aws_api_gateway_resource.ask.id
    ask_stream = aws_api_gateway_resource.ask_stream.id
  }
}

################################################################################
# REST API and VPC link
################################################################################

resource "aws_api_gateway_rest_api" "this" {
  name           = var.name
  description    = "qa-service: the page, /health, /ask and /ask/stream"
  api_key_source = "HEADER" # x-api-key

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_vpc_link" "this" {
  name        = var.name
  description = "API Gateway to the internal NLB of ${var.name}"
  target_arns = [var.nlb_arn]
}

resource "aws_api_gateway_resource" "health" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "health"
}

resource "aws_api_gateway_resource" "ask" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "ask"
}

resource "aws_api_gateway_resource" "ask_stream" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.ask.id
  path_part   = "stream"
}

################################################################################
# Methods and integrations
################################################################################

resource "aws_api_gateway_method" "this" {
  #checkov:skip=CKV_AWS_59:GET / (the page) and GET /health carry no data and must open without a key; /ask and /ask/stream set api_key_required.
  #checkov:skip=CKV2_AWS_53:The service validates every request body itself (422 with the field and reason); a second model here would drift from the OpenAPI document.
  for_each = local.routes

  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = local.resource_ids[each.key]
  http_method      = each.value.method
  authorization    = "NONE"
  api_key_required = each.value.api_key
}

resource "aws_api_gateway_integration" "this" {
  for_each = local.routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = local.resource_ids[each.key]
  http_method             = aws_api_gateway_method.this[each.key].http_method
  type                    = "HTTP_PROXY"
  integration_http_method = each.value.method
  connection_type         = "VPC_LINK"
  connection_id           = aws_api_gateway_vpc_link.this.id
  uri                     = "http://${var.nlb_dns_name}:${var.nlb_listener_port}${each.value.path}"
  timeout_milliseconds    = each.value.timeout_ms
  response_transfer_mode  = each.value.stream ? "STREAM" : "BUFFERED"

  # The service logs and answers with this id and trusts no other (a client could send any
  # x-amzn-requestid). API Gateway sets the header itself, overwriting what the client sent:
  # parameter mapping works "in your integration request for proxy and non-proxy
  # integrations" and takes `context.<name>` as a source (API Gateway developer guide,
  # "Parameter mapping source reference for REST APIs"); the VPC link changes only the
  # connection, not the mapping.
  request_parameters = {
    "integration.request.header.x-gateway-request-id" = "context.requestId"
  }
}

################################################################################
# Deployment and stage
################################################################################

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "Routes: ${join(", ", [for r in values(local.routes) : "${r.method} ${r.path}"])}"

  # A new deployment whenever a route, method or integration changes; without it the stage
  # keeps serving the old snapshot.
  triggers = {
    redeployment = sha1(jsonencode([
      local.routes,
      aws_api_gateway_resource.health,
      aws_api_gateway_resource.ask,
      aws_api_gateway_resource.ask_stream,
      aws_api_gateway_method.this,
      aws_api_gateway_integration.this,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

# logging_level = "INFO" (method settings) makes API Gateway write execution logs to this
# group, and create it itself (unencrypted, kept forever, outside the state) if it is
# missing (API Gateway developer guide, "Set up CloudWatch logging for REST APIs"). Declared
# here, with the key and retention of every other log group, before the stage logs.
resource "aws_cloudwatch_log_group" "execution" {
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Answers depend on the question body and on documents that change with ingestion; a stage cache would serve stale or wrong answers.
  #checkov:skip=CKV2_AWS_51:The backend is an internal NLB reached over the VPC link (PrivateLink); there is no public HTTPS backend to present a client certificate to.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      extendedRequestId  = "$context.extendedRequestId"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      resourcePath       = "$context.resourcePath"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationStatus  = "$context.integration.status"
      integrationLatency = "$context.integration.latency"
      integrationError   = "$context.integration.error"
      apiKeyId           = "$context.identity.apiKeyId"
      sourceIp           = "$context.identity.sourceIp"
      userAgent          = "$context.identity.userAgent"
      errorMessage       = "$context.error.message"
      wafResponseCode    = "$context.wafResponseCode"
    })
  }

  depends_on = [aws_cloudwatch_log_group.execution]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:No stage cache on purpose: answers depend on the request body and on re-ingested documents (see CKV_AWS_120 on the stage).
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = "INFO"
    data_trace_enabled     = false # would log request and response bodies: questions, answers, keys
    throttling_burst_limit = var.stage_throttle_burst_limit
    throttling_rate_limit  = var.stage_throttle_rate_limit
    caching_enabled        = false
    cache_data_encrypted   = true
  }

  # Execution logging starts here: its log group must exist first.
  depends_on = [aws_cloudwatch_log_group.execution]
}

################################################################################
# Usage plan and API keys
################################################################################

resource "aws_api_gateway_usage_plan" "this" {
  name        = var.name
  description = "Clients and the smoke test of ${var.name}"

  # Bound to the stage: without api_stages the quota and throttling below never apply.
  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    burst_limit = var.usage_plan_burst_limit
    rate_limit  = var.usage_plan_rate_limit
  }

  quota_settings {
    limit  = var.usage_plan_quota_limit
    period = var.usage_plan_quota_period
  }
}

# A new generation must mean new key values. Since provider 5.16 a new `name` is an in-place
# update that keeps the value (CHANGELOG: "resource/aws_api_gateway_api_key: Allow updating
# `name`", #33281), so the keys are replaced explicitly whenever the generation changes.
resource "terraform_data" "api_key_generation" {
  input = var.api_key_generation
}

# AWS generates each key's value. The provider keeps it in state as a sensitive attribute
# (aws_api_gateway_api_key has no write-only form in 6.25); it is never in code or
# variables. README, "What a pull request can read", says who can read the state.
resource "aws_api_gateway_api_key" "this" {
  for_each = toset(["clients", "smoke"])

  name        = "${var.name}-${each.key}-${var.api_key_generation}"
  description = each.key == "smoke" ? "Post-deploy smoke test of ${var.name}" : "Clients of ${var.name}"
  enabled     = true

  lifecycle {
    replace_triggered_by = [terraform_data.api_key_generation]
  }
}

resource "aws_api_gateway_usage_plan_key" "this" {
  for_each = aws_api_gateway_api_key.this

  key_id        = each.value.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this.id
}

# The smoke test reads its key from Secrets Manager. Written through the write-only
# argument, so the secret version holds no value in state; bumping `api_key_generation`
# replaces both keys and rewrites the secret.
resource "aws_secretsmanager_secret_version" "smoke_api_key" {
  secret_id                = var.smoke_api_key_secret_id
  secret_string_wo         = aws_api_gateway_api_key.this["smoke"].value
  secret_string_wo_version = var.api_key_generation
}

################################################################################
# WAF (optional): a per-IP rate limit in front of the stage
################################################################################

resource "aws_wafv2_web_acl" "this" {
  count = var.waf_enabled ? 1 : 0

  name  = var.name
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 1

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-limit"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-known-bad-inputs"
    priority = 2

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-anonymous-ip"
    priority = 3

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAnonymousIpList"

        # Clients that run in a cloud (CI jobs, other services) are legitimate callers:
        # count them, block only anonymising proxies and Tor.
        rule_action_override {
          name = "HostingProviderIPList"

          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-anonymous-ip"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = true
  }
}

resource "aws_cloudwatch_log_group" "waf" {
  count = var.waf_enabled ? 1 : 0

  name              = "aws-waf-logs-${var.name}" # WAF accepts only this prefix
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  count = var.waf_enabled ? 1 : 0

  resource_arn            = aws_wafv2_web_acl.this[0].arn
  log_destination_configs = [aws_cloudwatch_log_group.waf[0].arn]

  redacted_fields {
    single_header {
      name = "x-api-key"
    }
  }
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.waf_enabled ? 1 : 0

  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = aws_wafv2_web_acl.this[0].arn
}
