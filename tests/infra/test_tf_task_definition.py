"""`.aws/task-definition.json` rendered as Terraform's templatefile() would render it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from tfconfig import REPO, TEMPLATE, Stack, TemplateError, render_template, template_variables

from app.config import Settings

SHA = "0123456789abcdef0123456789abcdef01234567"
CONTRACT_ENVIRONMENT = {
    "APP_NAME",
    "ENVIRONMENT",
    "AWS_REGION",
    "QDRANT_COLLECTION",
    "BEDROCK_EMBEDDING_MODEL_ID",
    "BEDROCK_MODEL_ID",
    "BEDROCK_MAX_TOKENS",
    "LOG_LEVEL",
}


def _templatefile_vars(stack: Stack) -> list[str]:
    """The variable names the ecs module passes to templatefile(), in order."""
    ecs = stack.scope("ecs").config
    call = ecs.resource("aws_ecs_task_definition", "this")["container_definitions"]
    m = re.fullmatch(
        r"\$\{templatefile\(var\.container_definitions_template, \{(.*)\}\)\}", call, re.S
    )
    assert m, call
    return [re.match(r"\s*(\w+)\s*=", item).group(1) for item in _top_level(m.group(1))]


def _top_level(text: str) -> list[str]:
    """Split an HCL object body at the commas that are not nested in (), [], {} or quotes."""
    items, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"' and text[i - 1 : i] != "\\":
            quoted = not quoted
        elif not quoted and ch in "([{":
            depth += 1
        elif not quoted and ch in ")]}":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item for item in items if item.strip()]


def _environment_names(stack: Stack) -> set[str]:
    expr = stack.root.config.locals["app_environment"]
    inner = expr[expr.index("merge(") :]
    return set(re.findall(r"\b([A-Z][A-Z0-9_]+) =", inner))


@pytest.fixture(scope="module")
def sample(stack: Stack) -> dict[str, Any]:
    secrets = stack.root.config.modules["ecs"]["secrets"]
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:qa-service/dev/{}-AbCdEf"
    values: dict[str, Any] = {
        "container_name": "app",
        "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/qa-service-dev:{SHA}",
        "container_port": 8080,
        "health_check_path": "/health",
        "stop_timeout": 30,
        "log_group": "/ecs/qa-service-dev",
        "region": "us-east-1",
        "environment": json.dumps(
            [{"name": n, "value": "x"} for n in sorted(_environment_names(stack))]
        ),
        "secrets": json.dumps(
            [{"name": n, "valueFrom": arn.format(n.lower())} for n in sorted(secrets)]
        ),
    }
    assert set(values) == set(_templatefile_vars(stack)), "sample values out of date"
    return values


@pytest.fixture(scope="module")
def container(sample: dict[str, Any]) -> dict[str, Any]:
    rendered = json.loads(render_template(TEMPLATE.read_text(encoding="utf-8"), sample))
    assert isinstance(rendered, list)
    assert len(rendered) == 1
    return dict(rendered[0])


def test_terraform_renders_the_repository_template(stack: Stack) -> None:
    ecs = stack.scope("ecs")
    path = ecs.args["container_definitions_template"]
    assert path == "${path.module}/../.aws/task-definition.json"
    assert (REPO / "terraform" / path.removeprefix("${path.module}/")).resolve() == TEMPLATE


def test_template_uses_exactly_the_variables_terraform_passes(stack: Stack) -> None:
    used = template_variables(TEMPLATE.read_text(encoding="utf-8"))
    passed = set(_templatefile_vars(stack))
    assert used - passed == set(), f"templatefile() would fail: {sorted(used - passed)}"
    assert passed - used == set(), f"passed but unused: {sorted(passed - used)}"


def test_rendered_container_runs_non_root_read_only_on_8080(container: dict[str, Any]) -> None:
    assert container["name"] == "app"
    assert container["essential"] is True
    assert container["image"].endswith(f":{SHA}")
    assert container["user"].split(":")[0] == "10001"
    assert container["readonlyRootFilesystem"] is True
    assert container["privileged"] is False
    assert [p["containerPort"] for p in container["portMappings"]] == [8080]
    assert container["mountPoints"] == [
        {"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}
    ]
    assert 2 <= container["stopTimeout"] <= 120


def test_rendered_container_checks_health_and_logs_to_cloudwatch(
    container: dict[str, Any],
) -> None:
    check = container["healthCheck"]
    assert check["command"][0] == "CMD"
    assert "http://127.0.0.1:8080/health" in " ".join(check["command"])
    assert {"interval", "timeout", "retries", "startPeriod"} <= set(check)
    logs = container["logConfiguration"]
    assert logs["logDriver"] == "awslogs"
    assert logs["options"]["awslogs-group"] == "/ecs/qa-service-dev"
    assert logs["options"]["awslogs-region"] == "us-east-1"


def test_rendered_container_gets_qdrant_from_secrets_and_settings_as_environment(
    container: dict[str, Any],
) -> None:
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert set(secrets) == {"QDRANT_URL", "QDRANT_API_KEY"}
    assert secrets["QDRANT_URL"].endswith(":secret:qa-service/dev/qdrant_url-AbCdEf")
    env = {e["name"] for e in container["environment"]}
    assert env >= CONTRACT_ENVIRONMENT
    assert not env & set(secrets), "a secret must not also be plain environment"
    unknown = env - set(Settings.model_fields)
    assert not unknown, f"the service has no setting named {sorted(unknown)}"


def test_task_definition_volume_and_fargate_settings(stack: Stack) -> None:
    td = stack.scope("ecs").config.resource("aws_ecs_task_definition", "this")
    assert td["requires_compatibilities"] == ["FARGATE"]
    assert td["network_mode"] == "awsvpc"
    assert [v["name"] for v in td["volume"]] == ["tmp"]
    assert "data.external" not in json.dumps(td)


def test_renderer_follows_templatefile_rules() -> None:
    assert render_template("a ${x} b", {"x": "1"}) == "a 1 b"
    assert render_template("${n}/${f}/${t}", {"n": 8080, "f": 0.5, "t": True}) == "8080/0.5/true"
    assert render_template("$${x} %%{y}", {}) == "${x} %{y}"
    assert render_template("${ x }", {"x": "spaced"}) == "spaced"


@pytest.mark.parametrize(
    ("template", "variables", "message"),
    [
        ("${missing}", {"x": 1}, 'vars map does not contain key "missing"'),
        ("${items}", {"items": ["a"]}, "pass it through jsonencode()"),
        ("${upper(x)}", {"x": "a"}, "unsupported template expression"),
        ("%{ if x }y%{ endif }", {"x": True}, "directives are not supported"),
        ("${x}", {"x": "a", "bad-key!": 1}, "invalid key"),
    ],
)
def test_renderer_rejects_what_templatefile_rejects(
    template: str, variables: dict[str, Any], message: str
) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)):
        render_template(template, variables)


def test_template_with_an_unknown_variable_is_rejected(sample: dict[str, Any]) -> None:
    text = TEMPLATE.read_text(encoding="utf-8").replace('"${region}"', '"${aws_region}"')
    with pytest.raises(TemplateError, match='does not contain key "aws_region"'):
        render_template(text, sample)
