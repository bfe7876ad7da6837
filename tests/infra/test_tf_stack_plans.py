"""This stack's own plans (`make tf-plan-offline`: real Terraform, the aws stand-in) and what
is read from them: the values Terraform computed across modules, compared with independent
literals and with the app; the plan comment, the plan guard and checkov's plan scan run on
them as they run on a pull request's plan.

The plans are made once per session (`make tf-plan-offline`) unless .data/plans holds plans
newer than every file of terraform/ and .aws/.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import subprocess
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from deploy import plan_comment, plan_guard
from tests.infra.tfconfig import REPO

PLANS = REPO / ".data" / "plans"
ENVS = ("dev", "prod")
CHECKOV = REPO / "tools" / "checkov" / ".venv" / "bin" / "checkov"
pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is missing")


def _newest_source() -> float:
    files = [p for d in ("terraform", ".aws") for p in (REPO / d).rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in files if ".terraform" not in p.parts)


@pytest.fixture(scope="session")
def plans() -> dict[str, dict[str, Any]]:
    paths = [PLANS / f"{env}.{ext}" for env in ENVS for ext in ("json", "txt")]
    if not all(p.exists() and p.stat().st_mtime > _newest_source() for p in paths):
        subprocess.run(
            ["make", "-s", "-C", str(REPO), "tf-plan-offline"],
            check=True,
            capture_output=True,
            timeout=900,
        )
    return {env: json.loads((PLANS / f"{env}.json").read_text(encoding="utf-8")) for env in ENVS}


def _after(plan: dict[str, Any], address: str) -> dict[str, Any]:
    for change in plan["resource_changes"]:
        if change["address"] == address:
            return dict(change["change"]["after"])
    raise AssertionError(f"{address} is not in the plan")


def _of_type(plan: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {
        c["address"]: c["change"]["after"]
        for c in plan["resource_changes"]
        if c["type"] == rtype and c["mode"] == "managed"
    }


def _app_routes(method: str, path: str) -> bool:
    """Whether the service has a route for `method path` (neither 404 nor 405), asked of the
    app itself (without its start-up: no store, no model)."""
    from fastapi.testclient import TestClient

    from app.main import app

    status = TestClient(app, raise_server_exceptions=False).request(method, path).status_code
    return status not in (404, 405)


# --- values Terraform computed, across modules -------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_ports_agree_from_the_gateway_to_the_container(
    plans: dict[str, dict[str, Any]], env: str
) -> None:
    plan = plans[env]
    listener = _after(plan, "module.load_balancer.aws_lb_listener.this")
    target = _after(plan, "module.load_balancer.aws_lb_target_group.this")
    service = _after(plan, "module.ecs.aws_ecs_service.this")
    ingress = _after(plan, "module.ecs.aws_vpc_security_group_ingress_rule.tasks_from_lb")
    assert (listener["port"], listener["protocol"]) == (80, "TCP")
    assert (target["port"], target["protocol"], target["target_type"]) == (8080, "TCP", "ip")
    assert target["deregistration_delay"] == "30"
    assert [b["container_port"] for b in service["load_balancer"]] == [8080]
    assert (ingress["from_port"], ingress["to_port"]) == (8080, 8080)
    lb_ingress = _after(plan, "module.load_balancer.aws_vpc_security_group_ingress_rule.listener")
    assert (lb_ingress["from_port"], lb_ingress["to_port"]) == (80, 80)


@pytest.mark.parametrize("env", ENVS)
def test_the_nlb_is_internal_and_checks_the_apps_health_route(
    plans: dict[str, dict[str, Any]], env: str
) -> None:
    plan = plans[env]
    nlb = _after(plan, "module.load_balancer.aws_lb.this")
    assert (nlb["internal"], nlb["load_balancer_type"]) == (True, "network")
    assert nlb["enable_cross_zone_load_balancing"] is True
    assert nlb["enable_deletion_protection"] is (env == "prod")
    (check,) = _after(plan, "module.load_balancer.aws_lb_target_group.this")["health_check"]
    assert (check["protocol"], check["port"], check["path"]) == ("HTTP", "traffic-port", "/health")
    assert _app_routes("GET", check["path"])
    # Terraform's own record of the configuration: the NLB's subnets are the private ones.
    calls = plan["configuration"]["root_module"]["module_calls"]
    for call in ("load_balancer", "ecs"):
        refs = calls[call]["expressions"]["subnet_ids"]["references"]
        assert "module.network.private_subnet_ids" in refs, call


@pytest.mark.parametrize("env", ENVS)
def test_api_routes_are_the_apps_and_only_the_ask_routes_need_a_key(
    plans: dict[str, dict[str, Any]], env: str
) -> None:
    plan = plans[env]
    parts = {
        a.rsplit(".", 1)[1]: r["path_part"]
        for a, r in _of_type(plan, "aws_api_gateway_resource").items()
    }
    paths = {"root": "/", "health": "/health", "ask": "/ask", "ask_stream": "/ask/stream"}
    assert parts == {"health": "health", "ask": "ask", "ask_stream": "stream"}
    methods = _of_type(plan, "aws_api_gateway_method")
    keyed = {}
    for address, method in methods.items():
        key = re.search(r'\["(\w+)"\]$', address).group(1)  # type: ignore[union-attr]
        assert _app_routes(method["http_method"], paths[key]), address
        keyed[paths[key]] = method["api_key_required"]
    assert keyed == {"/": False, "/health": False, "/ask": True, "/ask/stream": True}
    for address, integration in _of_type(plan, "aws_api_gateway_integration").items():
        assert (integration["type"], integration["connection_type"]) == (
            "HTTP_PROXY",
            "VPC_LINK",
        ), address
        assert 50 <= integration["timeout_milliseconds"] <= 900_000
    stream = _after(plan, 'module.api_gateway.aws_api_gateway_integration.this["ask_stream"]')
    assert stream["response_transfer_mode"] == "STREAM"
    # A stage keeps serving its deployment: a change to any route must make a new one
    # (Terraform's record of the configuration: what the deployment's triggers read).
    api = plan["configuration"]["root_module"]["module_calls"]["api_gateway"]["module"]
    (deployment,) = [
        r for r in api["resources"] if r["address"] == "aws_api_gateway_deployment.this"
    ]
    triggers = set(deployment["expressions"]["triggers"]["references"])
    assert {"aws_api_gateway_method.this", "aws_api_gateway_integration.this"} <= triggers
    assert {f"aws_api_gateway_resource.{k}" for k in ("health", "ask", "ask_stream")} <= triggers


@pytest.mark.parametrize("env", ENVS)
def test_usage_plan_stage_logging_and_keys(plans: dict[str, dict[str, Any]], env: str) -> None:
    plan = plans[env]
    usage = _after(plan, "module.api_gateway.aws_api_gateway_usage_plan.this")
    assert [s["stage"] for s in usage["api_stages"]] == [env]
    assert usage["throttle_settings"]
    assert usage["quota_settings"]
    keys = _of_type(plan, "aws_api_gateway_api_key")
    assert sorted(keys) == [
        'module.api_gateway.aws_api_gateway_api_key.this["clients"]',
        'module.api_gateway.aws_api_gateway_api_key.this["smoke"]',
    ]
    assert all(k.get("value") is None for k in keys.values()), "AWS generates the key values"
    stage = _after(plan, "module.api_gateway.aws_api_gateway_stage.this")
    assert stage["xray_tracing_enabled"] is True
    assert stage["access_log_settings"]
    (settings,) = _after(plan, "module.api_gateway.aws_api_gateway_method_settings.all")["settings"]
    assert (settings["metrics_enabled"], settings["logging_level"]) == (True, "INFO")
    assert settings["data_trace_enabled"] is False, "data trace logs request bodies"
    assert settings["throttling_rate_limit"] > 0
    assert settings["throttling_burst_limit"] > 0


@pytest.mark.parametrize("env", ENVS)
def test_service_rolls_out_safely_in_private_subnets(
    plans: dict[str, dict[str, Any]], env: str
) -> None:
    service = _after(plans[env], "module.ecs.aws_ecs_service.this")
    assert service["launch_type"] == "FARGATE"
    assert service["deployment_minimum_healthy_percent"] == 100
    assert service["deployment_maximum_percent"] == 200
    assert service["deployment_circuit_breaker"] == [{"enable": True, "rollback": True}]
    assert [n["assign_public_ip"] for n in service["network_configuration"]] == [False]
    assert service["desired_count"] >= 2
    assert service["enable_execute_command"] is False


@pytest.mark.parametrize("env", ENVS)
def test_network_endpoints_flow_logs_and_nat_per_environment(
    plans: dict[str, dict[str, Any]], env: str
) -> None:
    plan = plans[env]
    endpoints = _of_type(plan, "aws_vpc_endpoint")
    interface = {
        e["service_name"]: e for e in endpoints.values() if e["vpc_endpoint_type"] == "Interface"
    }
    services = {"ecr.api", "ecr.dkr", "logs", "secretsmanager", "bedrock-runtime", "sts"}
    assert set(interface) == {f"com.amazonaws.us-east-1.{s}" for s in services}
    assert all(e["private_dns_enabled"] for e in interface.values())
    gateway = [e for e in endpoints.values() if e["vpc_endpoint_type"] == "Gateway"]
    assert [e["service_name"] for e in gateway] == ["com.amazonaws.us-east-1.s3"]
    https = _after(plan, "module.network.aws_vpc_security_group_ingress_rule.endpoints_https")
    assert (https["from_port"], https["to_port"]) == (443, 443)
    assert _after(plan, "module.network.aws_flow_log.this")["traffic_type"] == "ALL"
    default_sg = _after(plan, "module.network.aws_default_security_group.this")
    assert not default_sg.get("ingress")
    assert not default_sg.get("egress")
    # dev: one NAT gateway (single_nat_gateway); prod: one per zone.
    assert len(_of_type(plan, "aws_nat_gateway")) == (1 if env == "dev" else 2)


@pytest.mark.parametrize("env", ENVS)
def test_ecr_and_the_documents_bucket_are_locked_down(
    plans: dict[str, dict[str, Any]], env: str
) -> None:
    plan = plans[env]
    repo = _after(plan, "module.ecr.aws_ecr_repository.this")
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert repo["image_scanning_configuration"] == [{"scan_on_push": True}]
    assert [e["encryption_type"] for e in repo["encryption_configuration"]] == ["KMS"]
    assert repo["force_delete"] is (env != "prod")
    lifecycle = json.loads(_after(plan, "module.ecr.aws_ecr_lifecycle_policy.this")["policy"])
    counts = [r["selection"].get("countNumber") for r in lifecycle["rules"]]
    assert 50 in counts, "keep 50 images: the rollback window"
    bucket = "module.s3.module.bucket"
    pab = _after(plan, f"{bucket}.aws_s3_bucket_public_access_block.this")
    assert all(
        pab[k]
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    versioning = _after(plan, f"{bucket}.aws_s3_bucket_versioning.this")
    assert [v["status"] for v in versioning["versioning_configuration"]] == ["Enabled"]
    (rule,) = _after(plan, f"{bucket}.aws_s3_bucket_server_side_encryption_configuration.this")[
        "rule"
    ]
    assert rule["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    (expiry,) = _after(plan, f"{bucket}.aws_s3_bucket_lifecycle_configuration.this")["rule"]
    assert expiry["noncurrent_version_expiration"][0]["noncurrent_days"] == 30


@pytest.mark.parametrize("env", ENVS)
def test_alarms_watch_errors_latency_targets_and_running_tasks(
    plans: dict[str, dict[str, Any]], env: str
) -> None:
    alarms = {
        a.rsplit(".", 1)[1]: v
        for a, v in _of_type(plans[env], "aws_cloudwatch_metric_alarm").items()
    }
    assert alarms["api_5xx_rate"]["metric_name"] == "5XXError"
    assert alarms["api_latency_p99"]["extended_statistic"] == "p99"
    assert alarms["unhealthy_hosts"]["metric_name"] == "UnHealthyHostCount"
    queries = {q["id"]: q for q in alarms["ecs_running_below_desired"]["metric_query"]}
    assert queries["missing"]["expression"] == "desired - running"
    assert all(a["alarm_actions"] for a in alarms.values()), "every alarm notifies"


@pytest.mark.parametrize("env", ENVS)
def test_no_secret_value_is_planned_into_state(plans: dict[str, dict[str, Any]], env: str) -> None:
    """Secret values are set outside Terraform, or write-only (never in state or plan)."""
    for change in plans[env]["resource_changes"]:
        after = change["change"]["after"] or {}
        for attr in ("secret_string", "secret_binary"):
            assert after.get(attr) is None, f"{change['address']}.{attr} would be in state"


# --- the deploy tools on these plans ------------------------------------------------------


def _creates(plan: dict[str, Any]) -> list[str]:
    return [
        c["address"]
        for c in plan["resource_changes"]
        if c["mode"] == "managed" and c["change"]["actions"] == ["create"]
    ]


def _comment(plan_json: Path, plan_text: Path, env: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        code = plan_comment.main(
            [
                "--environment",
                env,
                "--plan-json",
                str(plan_json),
                "--plan-text",
                str(plan_text),
                "--print",
            ],
            environ={},
        )
    assert code == 0
    return out.getvalue()


def _sensitive_paths(value: Any, marks: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if marks is True:
        return [path]
    if isinstance(marks, dict) and isinstance(value, dict):
        return [p for k, m in marks.items() for p in _sensitive_paths(value.get(k), m, (*path, k))]
    if isinstance(marks, list) and isinstance(value, list):
        return [
            p
            for i, (v, m) in enumerate(zip(value, marks, strict=False))
            for p in _sensitive_paths(v, m, (*path, i))
        ]
    return []


@pytest.mark.parametrize("env", ENVS)
def test_plan_comment_renders_the_stack_plan_and_hides_sensitive_values(
    plans: dict[str, dict[str, Any]], env: str, tmp_path: Path
) -> None:
    """The comment shows Terraform's text and the counts of this plan; a value Terraform
    marks sensitive never appears. This stack plans no known sensitive value (the secrets
    are write-only or set outside Terraform), so one is planted where Terraform marks one:
    in the JSON's planned value and, as a leak, in the text."""
    plan = copy.deepcopy(plans[env])
    creates = _creates(plan)
    planted = 0
    for n, change in enumerate(plan["resource_changes"]):
        c = change["change"]
        for path in _sensitive_paths(c["after"], c.get("after_sensitive")):
            target = c["after"]
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = f"planted-secret-{n}-{'-'.join(map(str, path))}"
            planted += 1
    assert planted, "the plan marks some attribute sensitive"
    secrets = [
        f"planted-secret-{n}-{'-'.join(map(str, p))}"
        for n, ch in enumerate(plan["resource_changes"])
        for p in _sensitive_paths(ch["change"]["after"], ch["change"].get("after_sensitive"))
    ]
    plan_json = tmp_path / "plan.json"
    plan_json.write_text(json.dumps(plan), encoding="utf-8")
    text = (PLANS / f"{env}.txt").read_text(encoding="utf-8")
    plan_text = tmp_path / "plan.txt"
    # Near the top: the comment cuts a long plan (this one is ~100 kB) to fit GitHub's limit.
    # The control is not marked sensitive and must show, or the check would prove nothing.
    control = "plan-text-control-marker"
    head, rest = text.split("\n", 1)
    leak = f"# leaked: {' '.join(secrets)} {control}"
    plan_text.write_text(f"{head}\n{leak}\n{rest}", encoding="utf-8")

    body = _comment(plan_json, plan_text, env)
    assert f"<!-- qa-service:plan:{env} -->" in body
    assert re.search(rf"\b{len(creates)} to add\b", body), body[:2000]
    assert "module.ecs.aws_ecs_service.this will be created" in body
    assert control in body
    leaked = [s for s in secrets if s in body]
    assert not leaked, f"the comment shows sensitive values: {leaked[:3]}"


def test_plan_guard_accepts_the_reviewed_plan_and_refuses_any_other(
    plans: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    dev = PLANS / "dev.json"
    summary = tmp_path / "dev-summary.json"
    assert plan_guard.main(["summarize", "--plan-json", str(dev), "--out", str(summary)]) == 0
    assert plan_guard.main(["compare", "--reviewed", str(summary), "--plan-json", str(dev)]) == 0
    # The other environment's plan, and the same plan with one planned value changed.
    prod = PLANS / "prod.json"
    assert plan_guard.main(["compare", "--reviewed", str(summary), "--plan-json", str(prod)]) == 1
    changed = copy.deepcopy(plans["dev"])
    for change in changed["resource_changes"]:
        if change["address"] == "module.load_balancer.aws_lb_target_group.this":
            change["change"]["after"]["port"] += 1
    other = tmp_path / "changed.json"
    other.write_text(json.dumps(changed), encoding="utf-8")
    assert plan_guard.main(["compare", "--reviewed", str(summary), "--plan-json", str(other)]) == 1


# What checkov's plan scan reports on these plans and why each is accepted. The `#checkov:skip`
# comments of terraform/ apply too (--repo-root-for-plan-enrichment maps plan resources to
# their source); what is left is what a plan shows and the source does not:
EXPLAINED = {
    # The log groups' kms_key_id is the ARN of a key created in the same plan: unknown until
    # apply, which checkov counts as missing. The test asserts it is set (unknown), not null.
    "CKV_AWS_158": set(ENVS),
    # envs/dev.tfvars: log_retention_days = 30 and waf_enabled = false, by design (dev holds
    # no user data; the WAF's cost buys nothing there). Prod has 365 days and the WAF.
    "CKV_AWS_338": {"dev"},
    "CKV2_AWS_29": {"dev"},
}


@pytest.fixture(scope="session")
def checkov_failures(plans: dict[str, dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """{env: [(check id, resource address)]}: checkov on each plan, both at once."""
    assert CHECKOV.exists(), "make pytest installs tools/checkov"
    runs = {
        env: subprocess.Popen(
            [
                str(CHECKOV),
                "--file",
                str(PLANS / f"{env}.json"),
                "--framework",
                "terraform_plan",
                "--repo-root-for-plan-enrichment",
                str(REPO / "terraform"),
                "--skip-download",
                "--quiet",
                "--compact",
                "--output",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for env in ENVS
    }
    out: dict[str, list[tuple[str, str]]] = {}
    for env, run in runs.items():
        stdout, stderr = run.communicate(timeout=900)
        report = json.loads(stdout)
        assert report["summary"]["passed"] > 100, stderr[-2000:]
        out[env] = [(f["check_id"], f["resource"]) for f in report["results"]["failed_checks"]]
    return out


@pytest.mark.parametrize("env", ENVS)
def test_checkov_plan_scan_finds_only_what_is_explained(
    plans: dict[str, dict[str, Any]], checkov_failures: dict[str, list[tuple[str, str]]], env: str
) -> None:
    unexplained = [f for f in checkov_failures[env] if env not in EXPLAINED.get(f[0], set())]
    assert not unexplained, unexplained
    for check_id, resource in checkov_failures[env]:
        if check_id == "CKV_AWS_158":
            change = next(c for c in plans[env]["resource_changes"] if c["address"] == resource)
            assert change["change"]["after_unknown"].get("kms_key_id") is True, resource
