"""The contracts of docs/architecture.md, as the Terraform configuration resolves them."""

from __future__ import annotations

import re

from tfconfig import TERRAFORM, Config, Stack, blocks

CONTRACT_OUTPUTS = {
    "ecr_repository_url",
    "ecs_cluster_name",
    "ecs_service_name",
    "api_invoke_url",
    "smoke_api_key_secret_arn",
}


def test_design_outputs_and_the_stage_url_exist(root: Config) -> None:
    assert set(root.outputs) >= CONTRACT_OUTPUTS | {"api_stage_url"}
    assert root.outputs["api_invoke_url"]["value"] == "${module.api_gateway.invoke_url}"
    assert root.outputs["api_stage_url"]["value"] == "${module.api_gateway.invoke_url}"


def test_design_outputs_resolve_to_the_resources_they_name(stack: Stack) -> None:
    outs = stack.root.config.outputs
    wiring = {
        "ecr_repository_url": ("ecr", "aws_ecr_repository.this.repository_url"),
        "ecs_cluster_name": ("ecs", "aws_ecs_cluster.this.name"),
        "ecs_service_name": ("ecs", "aws_ecs_service.this.name"),
        "api_invoke_url": ("api_gateway", "aws_api_gateway_stage.this.invoke_url"),
        "smoke_api_key_secret_arn": (
            "secrets",
            'aws_secretsmanager_secret.this["smoke-api-key"].arn',
        ),
    }
    for name, (module, target) in wiring.items():
        call, out = re.fullmatch(r"\$\{module\.(\w+)\.(\w+)\}", outs[name]["value"]).groups()
        assert call == module, name
        child = stack.child(stack.root, call)
        assert child.config.outputs[out]["value"] == "${" + target + "}", name


def test_ports_agree_end_to_end(stack: Stack) -> None:
    lb = stack.scope("load_balancer")
    listener = lb.config.resource("aws_lb_listener", "this")
    tg = lb.config.resource("aws_lb_target_group", "this")
    assert stack.resolve(lb, listener["port"]) == 80
    assert listener["protocol"] == "TCP"
    assert stack.resolve(lb, tg["port"]) == 8080
    assert (tg["protocol"], tg["target_type"]) == ("TCP", "ip")
    assert stack.resolve(lb, tg["deregistration_delay"]) == 30

    ecs = stack.scope("ecs")
    service = ecs.config.resource("aws_ecs_service", "this")
    binding = blocks(service["load_balancer"])[0]
    assert stack.resolve(ecs, binding["container_port"]) == 8080
    assert binding["target_group_arn"] == "${var.target_group_arn}"
    assert ecs.args["target_group_arn"] == "${module.load_balancer.target_group_arn}"
    ingress = ecs.config.resource("aws_vpc_security_group_ingress_rule", "tasks_from_lb")
    assert (
        stack.resolve(ecs, ingress["from_port"]) == stack.resolve(ecs, ingress["to_port"]) == 8080
    )

    api = stack.scope("api_gateway")
    uri = stack.resolve(api, api.config.resource("aws_api_gateway_integration", "this")["uri"])
    assert re.fullmatch(r"http://\$\{var\.nlb_dns_name\}:80\$\{each\.value\.path\}", uri), uri


def test_target_group_health_check_is_http_on_health(stack: Stack) -> None:
    lb = stack.scope("load_balancer")
    check = blocks(lb.config.resource("aws_lb_target_group", "this")["health_check"])[0]
    assert check["protocol"] == "HTTP"
    assert stack.resolve(lb, check["path"]) == "/health"
    assert check["port"] == "traffic-port"


def test_load_balancer_is_internal_in_private_subnets(stack: Stack) -> None:
    lb = stack.scope("load_balancer")
    nlb = lb.config.resource("aws_lb", "this")
    assert nlb["internal"] is True
    assert nlb["load_balancer_type"] == "network"
    assert nlb["enable_cross_zone_load_balancing"] is True
    assert lb.args["subnet_ids"] == "${module.network.private_subnet_ids}"
    assert lb.args["deletion_protection"] == "${local.is_prod}"
    ingress = lb.config.resource("aws_vpc_security_group_ingress_rule", "listener")
    assert ingress["cidr_ipv4"] == "${var.vpc_cidr}"
    assert stack.resolve(lb, ingress["from_port"]) == 80


def _routes(stack: Stack) -> dict[str, dict[str, object]]:
    """Path => route of the API, with the path rebuilt from the API Gateway resources."""
    api = stack.scope("api_gateway")
    cfg = api.config
    paths: dict[str, str] = {"${aws_api_gateway_rest_api.this.root_resource_id}": ""}
    pending = {n: b for _, t, n, b in cfg.resources() if t == "aws_api_gateway_resource"}
    while pending:
        for name, res in list(pending.items()):
            if res["parent_id"] in paths:
                paths[f"${{aws_api_gateway_resource.{name}.id}}"] = (
                    paths[res["parent_id"]] + "/" + res["path_part"]
                )
                del pending[name]
    method = cfg.resource("aws_api_gateway_method", "this")
    assert method["for_each"] == "${local.routes}"
    assert method["resource_id"] == "${local.resource_ids[each.key]}"
    assert method["api_key_required"] == "${each.value.api_key}"
    out = {}
    for key, route in cfg.locals["routes"].items():
        built = paths[cfg.locals["resource_ids"][key]] or "/"
        assert built == route["path"], f"route {key}: resource path {built} != {route['path']}"
        out[route["path"]] = route
    return out


def test_ask_routes_require_an_api_key_and_the_page_does_not(stack: Stack) -> None:
    routes = _routes(stack)
    assert set(routes) == {"/", "/health", "/ask", "/ask/stream"}
    assert routes["/ask"]["api_key"] is True
    assert routes["/ask"]["method"] == "POST"
    assert routes["/ask/stream"]["api_key"] is True
    assert routes["/ask/stream"]["method"] == "POST"
    assert routes["/"]["api_key"] is False
    assert routes["/health"]["api_key"] is False
    assert routes["/ask/stream"]["stream"] is True


def test_integrations_are_http_proxy_over_the_vpc_link_with_timeouts(stack: Stack) -> None:
    api = stack.scope("api_gateway")
    integration = api.config.resource("aws_api_gateway_integration", "this")
    assert integration["type"] == "HTTP_PROXY"
    assert integration["connection_type"] == "VPC_LINK"
    assert integration["connection_id"] == "${aws_api_gateway_vpc_link.this.id}"
    assert integration["timeout_milliseconds"] == "${each.value.timeout_ms}"
    for route in api.config.locals["routes"].values():
        timeout = stack.resolve(api, route["timeout_ms"])
        assert isinstance(timeout, int)
        assert 50 <= timeout <= 900_000
    link = api.config.resource("aws_api_gateway_vpc_link", "this")
    assert link["target_arns"] == ["${var.nlb_arn}"]
    assert api.args["nlb_arn"] == "${module.load_balancer.arn}"


def test_deployment_is_rebuilt_when_any_route_changes(stack: Stack) -> None:
    api = stack.scope("api_gateway").config
    deployment = api.resource("aws_api_gateway_deployment", "this")
    trigger = deployment["triggers"]["redeployment"]
    for part in ("aws_api_gateway_method.this", "aws_api_gateway_integration.this", "local.routes"):
        assert part in trigger
    assert blocks(deployment["lifecycle"])[0]["create_before_destroy"] is True


def test_usage_plan_is_bound_to_the_stage_and_has_both_keys(stack: Stack) -> None:
    api = stack.scope("api_gateway").config
    plan = api.resource("aws_api_gateway_usage_plan", "this")
    stages = blocks(plan["api_stages"])
    assert stages, "a usage plan without api_stages applies no quota or throttling"
    assert stages[0]["stage"] == "${aws_api_gateway_stage.this.stage_name}"
    assert stages[0]["api_id"] == "${aws_api_gateway_rest_api.this.id}"
    assert blocks(plan["throttle_settings"])
    assert blocks(plan["quota_settings"])
    keys = api.resource("aws_api_gateway_api_key", "this")
    assert keys["for_each"] == '${toset(["clients", "smoke"])}'
    assert "value" not in keys  # AWS generates the value; never in code or variables
    plan_key = api.resource("aws_api_gateway_usage_plan_key", "this")
    assert plan_key["usage_plan_id"] == "${aws_api_gateway_usage_plan.this.id}"


def test_stage_logs_traces_and_throttles_without_data_trace(stack: Stack) -> None:
    api = stack.scope("api_gateway").config
    stage = api.resource("aws_api_gateway_stage", "this")
    assert stage["xray_tracing_enabled"] is True
    assert blocks(stage["access_log_settings"])[0]["destination_arn"] == (
        "${aws_cloudwatch_log_group.access.arn}"
    )
    settings = blocks(api.resource("aws_api_gateway_method_settings", "all")["settings"])[0]
    assert settings["metrics_enabled"] is True
    assert settings["logging_level"] == "INFO"
    assert settings["data_trace_enabled"] is False
    assert "throttling_rate_limit" in settings
    assert "throttling_burst_limit" in settings


def test_service_leaves_image_and_count_to_the_rollout_and_autoscaling(stack: Stack) -> None:
    ecs = stack.scope("ecs").config
    service = ecs.resource("aws_ecs_service", "this")
    # load_balancer: ECS swaps the target groups at each blue/green deployment (modules/ecs).
    assert blocks(service["lifecycle"])[0]["ignore_changes"] == [
        "task_definition",
        "desired_count",
        "load_balancer",
    ]
    text = (TERRAFORM / "modules" / "ecs" / "main.tf").read_text(encoding="utf-8")
    block = text[text.index('resource "aws_ecs_service"') :]
    lifecycle = block[block.index("lifecycle {") : block.index("ignore_changes")]
    assert re.search(r"#.*rollout", lifecycle), "say why the service ignores them"
    assert service["launch_type"] == "FARGATE"
    assert service["deployment_minimum_healthy_percent"] == 100
    assert service["deployment_maximum_percent"] == 200
    breaker = blocks(service["deployment_circuit_breaker"])[0]
    assert breaker == {"enable": True, "rollback": True, "__is_block__": True}
    network = blocks(service["network_configuration"])[0]
    assert network["assign_public_ip"] is False
    scope = stack.scope("ecs")
    assert stack.resolve(scope, service["desired_count"]) >= 2
    assert stack.resolve(scope, service["enable_execute_command"]) is False
    assert (
        stack.scope().config.modules["ecs"]["subnet_ids"] == "${module.network.private_subnet_ids}"
    )


def test_secrets_are_named_by_contract_and_have_no_value_in_terraform(stack: Stack) -> None:
    secrets = stack.scope("secrets").config
    secret = secrets.resource("aws_secretsmanager_secret", "this")
    assert secret["name"] == "${var.app_name}/${var.environment}/${each.key}"
    assert set(secrets.locals["secrets"]) == {"qdrant-url", "qdrant-api-key", "smoke-api-key"}
    for cfg_dir in TERRAFORM.rglob("*.tf"):
        text = cfg_dir.read_text(encoding="utf-8")
        assert not re.search(r"^\s*secret_string\s*=", text, re.M), f"{cfg_dir}: value in state"
        assert not re.search(r"^\s*secret_binary\s*=", text, re.M), f"{cfg_dir}: value in state"
    version = stack.scope("api_gateway").config.resource(
        "aws_secretsmanager_secret_version", "smoke_api_key"
    )
    assert set(version) >= {"secret_string_wo", "secret_string_wo_version"}


def test_network_spans_azs_with_endpoints_and_flow_logs(stack: Stack) -> None:
    net = stack.scope("network")
    cfg = net.config
    endpoint = cfg.resource("aws_vpc_endpoint", "interface")
    assert endpoint["for_each"] == "${local.interface_endpoints}"
    assert "var.interface_endpoints" in cfg.locals["interface_endpoints"]
    assert endpoint["service_name"] == (
        "${data.aws_vpc_endpoint_service.interface[each.key].service_name}"
    )
    service = cfg.data("aws_vpc_endpoint_service", "interface")
    assert service["service_name"] == "com.amazonaws.${local.region}.${each.value}"
    assert endpoint["private_dns_enabled"] is True
    assert set(cfg.variables["interface_endpoints"]["default"]) == {
        "ecr.api",
        "ecr.dkr",
        "logs",
        "secretsmanager",
        "bedrock-runtime",
        "sts",
    }
    assert cfg.resource("aws_vpc_endpoint", "s3")["vpc_endpoint_type"] == "Gateway"
    https = cfg.resource("aws_vpc_security_group_ingress_rule", "endpoints_https")
    assert (https["from_port"], https["to_port"]) == (443, 443)
    assert cfg.resource("aws_flow_log", "this")["traffic_type"] == "ALL"
    default_sg = cfg.resource("aws_default_security_group", "this")
    assert "ingress" not in default_sg
    assert "egress" not in default_sg
    assert cfg.variables["az_count"]["default"] == 2
    assert cfg.resource("aws_nat_gateway", "this")["count"] == "${local.nat_count}"


def test_ecr_is_immutable_scanned_encrypted_and_keeps_a_rollback_window(stack: Stack) -> None:
    ecr = stack.scope("ecr").config
    repo = ecr.resource("aws_ecr_repository", "this")
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert blocks(repo["image_scanning_configuration"])[0]["scan_on_push"] is True
    assert blocks(repo["encryption_configuration"])[0]["encryption_type"] == "KMS"
    assert ecr.variables["keep_images"]["default"] == 50
    assert stack.root.config.modules["ecr"]["force_delete"] == "${!local.is_prod}"


def test_documents_bucket_is_private_versioned_encrypted_and_tls_only(stack: Stack) -> None:
    # modules/s3 passes its own key and retention to modules/private_bucket.
    call = stack.scope("s3").config.modules["bucket"]
    assert call["source"] == "../private_bucket"
    assert call["kms_key_arn"] == "${module.kms.key_arn}"
    assert call["noncurrent_version_expiration_days"] == "${var.noncurrent_version_expiration_days}"
    assert call["force_destroy"] == "${var.force_destroy}"
    s3 = stack.scope("s3", "bucket").config
    pab = s3.resource("aws_s3_bucket_public_access_block", "this")
    assert all(
        pab[k] is True
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    versioning = s3.resource("aws_s3_bucket_versioning", "this")
    assert blocks(versioning["versioning_configuration"])[0]["status"] == "Enabled"
    sse = s3.resource("aws_s3_bucket_server_side_encryption_configuration", "this")
    default = blocks(blocks(sse["rule"])[0]["apply_server_side_encryption_by_default"])[0]
    assert default["sse_algorithm"] == "aws:kms"
    assert default["kms_master_key_id"] == "${var.kms_key_arn}"
    tls = blocks(s3.data("aws_iam_policy_document", "this")["statement"])[0]
    assert tls["effect"] == "Deny"
    assert blocks(tls["condition"])[0]["variable"] == "aws:SecureTransport"
    rule = blocks(s3.resource("aws_s3_bucket_lifecycle_configuration", "this")["rule"])[0]
    assert blocks(rule["noncurrent_version_expiration"])


def test_alarms_cover_api_errors_latency_targets_and_running_tasks(stack: Stack) -> None:
    alarms = stack.scope("alarms").config
    by_metric = {}
    for _, rtype, name, body in alarms.resources():
        if rtype == "aws_cloudwatch_metric_alarm":
            by_metric[name] = body
            assert body["alarm_actions"] == ["${local.topic_arn}"], name
    assert by_metric["api_5xx_rate"]["metric_name"] == "5XXError"
    assert by_metric["api_latency_p99"]["extended_statistic"] == "p99"
    assert by_metric["unhealthy_hosts"]["metric_name"] == "UnHealthyHostCount"
    queries = {q["id"]: q for q in blocks(by_metric["ecs_running_below_desired"]["metric_query"])}
    assert queries["missing"]["expression"] == "desired - running"
